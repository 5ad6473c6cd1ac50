"""1 s windows cut at random offsets from synthetic keyword streams: training and calibration for streams.

A live device never sees a centred clip: it sees 1 s windows that end every few hops, holding part of a
word at either edge, a word and its neighbour, or only background. Each window here is cut from a short
synthetic stream: three words (1 s clips, their own recording noise included) with gaps of background
noise or near-silence between them, each stream at its own random noise level (log-uniform RMS, like the
streams `host.streaming_quality` measures on). Most windows overlap the middle word by 0.1-1 s; the rest
fall anywhere in the stream, gaps included. The teacher labels exactly the audio of each window (function
matching), so the student learns what the teacher says of every position a stream puts a word in.

Longer context (a student with "even" context reads more than 1 s, `model.student.input_frames`): the
window is the same 1 s window with the stream's audio before it (`context_samples`); the teacher still
labels exactly the last second. The audio before a stream's first word is more background noise at the
stream's level, drawn from its own generator so that the last seconds are those of a 1 s window run.
A 1 s clip gets, before it, background noise at the level of the clip's own quietest 100 ms, which is
the noise a stream carries up to a word (`clips_in_context`; silence where no noise is given).
Features of a long window are those of its 1 s pieces (`features_in_context`): every front-end frame
depends only on its own 30 ms of audio.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from model.audio import CLIP_SAMPLES, SAMPLE_RATE
from model.datasets import LABELS, BackgroundNoise, ClipSet, log_uniform, shared_background_noise
from model.errors import BitearError
from model.facts import FRAMES, HOP
from model.student import input_frames

SILENCE = LABELS.index("_silence_")
GAP_S = (0.1, 2.0)            # noise between words, seconds
NOISE_RMS = (3.0, 300.0)      # the stream's noise level, log-uniform (int16 RMS)
OVERLAP_S = 0.1               # the least overlap of a window with the middle word
MIDDLE_KEYWORD = 0.6          # share of streams whose middle word is a keyword (else another word)
ANYWHERE = 0.15               # share of windows placed anywhere in the stream (gaps included)
CONTEXT_SEED = 8              # the noise before evaluation clips (context_features)
QUIET_S = 0.1                 # a clip's background level: the RMS of its quietest stretch this long


def build_stream(clips: Sequence[np.ndarray], gap: Callable[[int, bool], np.ndarray], rng: np.random.Generator,
                 gap_s: tuple[float, float] = GAP_S) -> tuple[np.ndarray, list[int]]:
    """The stream builder of the project: each clip follows a gap of rng.uniform(*gap_s) seconds, a gap of
    gap_s[1] seconds ends the stream; gap(n, last) -> n int16 samples (last: the closing gap).
    Returns (int16 audio, start sample of each clip)."""
    parts, starts, pos = [], [], 0
    for clip in clips:
        n = int(rng.uniform(*gap_s) * SAMPLE_RATE)
        parts += [gap(n, False), np.asarray(clip, np.int16)]
        starts.append(pos + n)
        pos += n + len(clip)
    parts.append(gap(int(gap_s[1] * SAMPLE_RATE), True))
    return np.concatenate(parts), starts


def context_samples(frames: int) -> int:
    """Samples of a window of `frames` front-end frames whose last FRAMES frames are its last second."""
    if frames < FRAMES:
        raise ValueError(f"a window holds at least {FRAMES} frames, asked for {frames}")
    return CLIP_SAMPLES + (frames - FRAMES) * HOP


def features_in_context(audio: np.ndarray, features_of) -> np.ndarray:
    """(N, frames, bins) features of (N, context_samples(frames)) int16 windows, computed by
    `features_of` ((n, 16000) int16 -> (n, 49, bins) int8) on 1 s pieces that tile the window."""
    audio = np.asarray(audio)
    extra, rest = divmod(audio.shape[1] - CLIP_SAMPLES, HOP)
    if extra < 0 or rest:
        raise ValueError(f"a window of context is 16000 + a multiple of {HOP} samples, found {audio.shape[1]}")
    frames = FRAMES + extra
    starts = list(range(0, frames - FRAMES, FRAMES)) + [frames - FRAMES]
    pieces = [np.asarray(features_of(np.ascontiguousarray(audio[:, f * HOP:f * HOP + CLIP_SAMPLES]))) for f in starts]
    out = np.empty((len(audio), frames, pieces[0].shape[2]), pieces[0].dtype)
    for f, piece in zip(starts, pieces):
        out[:, f:f + FRAMES] = piece
    return out


def quiet_rms(clip: np.ndarray) -> float:
    """RMS of the clip's quietest QUIET_S stretch (non-overlapping): its background level."""
    n = int(QUIET_S * SAMPLE_RATE)
    x = np.asarray(clip, np.float64)[: len(clip) // n * n].reshape(-1, n)
    return float(np.sqrt((x * x).mean(axis=1)).min())


def clips_in_context(rng: np.random.Generator, clips: np.ndarray, noise: BackgroundNoise | None, frames: int) -> np.ndarray:
    """(N, context_samples(frames)) int16: each 1 s clip at the end of its window, after background noise
    at the clip's own quiet level (silence without `noise`); the clips themselves when frames = FRAMES."""
    extra = context_samples(frames) - CLIP_SAMPLES
    clips = np.asarray(clips, np.int16)
    if extra == 0:
        return clips
    out = np.zeros((len(clips), CLIP_SAMPLES + extra), np.int16)
    out[:, extra:] = clips
    if noise is not None:
        for i, clip in enumerate(clips):
            out[i, :extra] = noise.segment(rng, extra, rms=quiet_rms(clip))
    return out


def clip_features(rng: np.random.Generator, clips: np.ndarray, noise: BackgroundNoise | None, frames: int,
                  features_of) -> np.ndarray:
    """(N, frames, bins) features of 1 s clips as a student reading `frames` frames hears them: the clip's
    own features, or with a longer context the clip in context (`clips_in_context`)."""
    if frames == FRAMES:
        return np.asarray(features_of(np.asarray(clips, np.int16)))
    return features_in_context(clips_in_context(rng, clips, noise, frames), features_of)


def context_features(config: dict, clips: np.ndarray, features_of, seed: int = CONTEXT_SEED) -> np.ndarray:
    """`clip_features` of 1 s clips for a student config, the noise before them from the shared
    background_noise/ folder (silence without it), drawn with a fixed seed: evaluation and calibration."""
    frames = input_frames(config)
    try:
        noise = shared_background_noise() if frames != FRAMES else None
    except BitearError:
        noise = None
    return clip_features(np.random.default_rng(seed), clips, noise, frames, features_of)


def _mini_stream(rng: np.random.Generator, clips: list[np.ndarray], noise: BackgroundNoise) -> tuple[np.ndarray, int, float]:
    """gap, word, gap, word, gap, word, gap at one noise level; (audio, start sample of the middle word, noise RMS)."""
    rms = log_uniform(rng, NOISE_RMS)
    audio, starts = build_stream(clips, lambda n, last: noise.segment(rng, n, rms=rms), rng)
    return audio, starts[len(clips) // 2], rms


def stream_windows(rng: np.random.Generator, words: ClipSet, noise: BackgroundNoise, n: int,
                   frames: int = FRAMES, lead_rng: np.random.Generator | None = None) -> np.ndarray:
    """(n, context_samples(frames)) int16 windows cut from synthetic streams of `words` (their `_silence_`
    clips are not used). The last second of each is the same for every `frames`; the noise before a
    stream's first gap, where a longer window reaches back that far, comes from `lead_rng`."""
    extra = context_samples(frames) - CLIP_SAMPLES
    lead_rng = lead_rng if lead_rng is not None else np.random.default_rng(0)
    speech = np.flatnonzero(words.labels != SILENCE)
    keywords = np.flatnonzero(words.labels > LABELS.index("_unknown_"))
    others = np.setdiff1d(speech, keywords)
    if len(speech) == 0:
        raise ValueError("stream_windows: no speech clips to build streams from")
    out = np.empty((n, CLIP_SAMPLES + extra), np.int16)
    for i in range(n):
        pool = keywords if len(keywords) and (rng.random() < MIDDLE_KEYWORD or not len(others)) else others
        middle = int(rng.choice(pool))
        picks = [int(rng.choice(speech)), middle, int(rng.choice(speech))]
        audio, start, rms = _mini_stream(rng, [words.audio[j] for j in picks], noise)
        if rng.random() < ANYWHERE:
            offset = int(rng.integers(0, len(audio) - CLIP_SAMPLES + 1))
        else:
            overlap = int(OVERLAP_S * SAMPLE_RATE)
            lo = max(0, start + overlap - CLIP_SAMPLES)
            hi = min(len(audio) - CLIP_SAMPLES, start + len(words.audio[middle]) - overlap)
            offset = int(rng.integers(lo, hi + 1))
        if extra:
            audio = np.concatenate([noise.segment(lead_rng, extra, rms=rms), audio])
        out[i] = audio[offset:offset + CLIP_SAMPLES + extra]
    return out
