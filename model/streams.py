"""1 s windows cut at random offsets from synthetic keyword streams: training and calibration for streams.

A live device never sees a centred clip: it sees 1 s windows that end every few hops, holding part of a
word at either edge, a word and its neighbour, or only background. Each window here is cut from a short
synthetic stream: three words (1 s clips, their own recording noise included) with gaps of background
noise or near-silence between them, each stream at its own random noise level (log-uniform RMS, like the
streams `host.streaming_quality` measures on). Most windows overlap the middle word by 0.1-1 s; the rest
fall anywhere in the stream, gaps included. The teacher labels exactly the audio of each window (function
matching), so the student learns what the teacher says of every position a stream puts a word in.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from model.audio import CLIP_SAMPLES, SAMPLE_RATE
from model.datasets import LABELS, BackgroundNoise, ClipSet, log_uniform

SILENCE = LABELS.index("_silence_")
GAP_S = (0.1, 2.0)            # noise between words, seconds
NOISE_RMS = (3.0, 300.0)      # the stream's noise level, log-uniform (int16 RMS)
OVERLAP_S = 0.1               # the least overlap of a window with the middle word
MIDDLE_KEYWORD = 0.6          # share of streams whose middle word is a keyword (else another word)
ANYWHERE = 0.15               # share of windows placed anywhere in the stream (gaps included)


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


def _mini_stream(rng: np.random.Generator, clips: list[np.ndarray], noise: BackgroundNoise) -> tuple[np.ndarray, int]:
    """gap, word, gap, word, gap, word, gap at one noise level; (audio, start sample of the middle word)."""
    rms = log_uniform(rng, NOISE_RMS)
    audio, starts = build_stream(clips, lambda n, last: noise.segment(rng, n, rms=rms), rng)
    return audio, starts[len(clips) // 2]


def stream_windows(rng: np.random.Generator, words: ClipSet, noise: BackgroundNoise, n: int) -> np.ndarray:
    """(n, 16000) int16 windows cut from synthetic streams of `words` (their `_silence_` clips are not used)."""
    speech = np.flatnonzero(words.labels != SILENCE)
    keywords = np.flatnonzero(words.labels > LABELS.index("_unknown_"))
    others = np.setdiff1d(speech, keywords)
    if len(speech) == 0:
        raise ValueError("stream_windows: no speech clips to build streams from")
    out = np.empty((n, CLIP_SAMPLES), np.int16)
    for i in range(n):
        pool = keywords if len(keywords) and (rng.random() < MIDDLE_KEYWORD or not len(others)) else others
        middle = int(rng.choice(pool))
        picks = [int(rng.choice(speech)), middle, int(rng.choice(speech))]
        audio, start = _mini_stream(rng, [words.audio[j] for j in picks], noise)
        if rng.random() < ANYWHERE:
            offset = int(rng.integers(0, len(audio) - CLIP_SAMPLES + 1))
        else:
            overlap = int(OVERLAP_S * SAMPLE_RATE)
            lo = max(0, start + overlap - CLIP_SAMPLES)
            hi = min(len(audio) - CLIP_SAMPLES, start + len(words.audio[middle]) - overlap)
            offset = int(rng.integers(lo, hi + 1))
        out[i] = audio[offset:offset + CLIP_SAMPLES]
    return out
