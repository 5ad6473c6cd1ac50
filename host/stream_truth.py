"""The streams host.streaming_quality scores, and their truth: where each keyword starts and ends.

Three kinds of stream, all 16 kHz mono int16 cut to whole 20 ms hops:

- `real_stream`: clips of speech_commands_v2_dev spoken by the *validation speakers* of the
  student's speaker split (`ClipSet.split_by_speaker(VAL_FRACTION, SPLIT_SALT)`,
  the second part, exactly as model.distill.load_sources splits), so the model never heard these
  voices; keywords and other words drawn by seed, gaps of background_noise/.
- `generated_stream`: espeak-ng/flite words (model.synth) over generated pink noise (no data needed).
- `wav_stream`: any recording (any rate / channel count, resampled as host.audio_input does) with
  a truth CSV, header `start_s,end_s,label`; rows whose label is not a keyword are distractors.

The built streams and their truth come from model.word_truth.keyword_stream (each word after a gap of
1-2 s of noise at its own level; a keyword's onset and end by the rule of model.word_truth).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from host.demo import pink_noise
from model.audio import SAMPLE_RATE, audio_info, stream_16k
from model.datasets import BackgroundNoise, SPLIT_SALT, VAL_FRACTION, load_speech_commands
from model.errors import BitearError
from model.facts import HOP, KEYWORDS, OTHER_WORDS
from model.synth import RECIPE_ENGINES, synthesize_words, trim_silence
from model.word_truth import Keyword, keyword_stream

DISTRACTORS = OTHER_WORDS[:10]              # the other words of generated streams
TRUTH_COLUMNS = ("start_s", "end_s", "label")


@dataclass
class Stream:
    audio: np.ndarray                     # int16, whole hops
    keywords: list[Keyword]               # in time order
    distractors: int                      # other words in the stream
    source: str
    speakers: int | None = None           # distinct speakers of the words, where known

def validation_clips(root: Path):
    """The clips of speech_commands_v2_dev spoken by the student's validation speakers (model.train's split)."""
    clips = load_speech_commands(root / "speech_commands_v2_dev", progress=False)
    return clips.split_by_speaker(VAL_FRACTION, SPLIT_SALT)[1]


def real_stream(root: Path, n_keywords: int, n_unknown: int, rng: np.random.Generator) -> Stream:
    """n_keywords keyword clips (as even over the ten keywords as the clips allow) and n_unknown other
    words of the validation speakers, drawn by rng, with background_noise/ gaps."""
    val = validation_clips(root)
    noise = BackgroundNoise.load(root / "background_noise", progress=False)
    words = np.array(val.words)
    per_word = -(-n_keywords // len(KEYWORDS))
    picked: list[int] = []
    for kw in KEYWORDS:
        idx = np.flatnonzero(words == kw)
        picked += list(rng.choice(idx, min(per_word, len(idx)), replace=False))
    picked = [picked[i] for i in rng.permutation(len(picked))[:n_keywords]]
    other = np.flatnonzero([w not in KEYWORDS and w != "_silence_" for w in val.words])
    n_other = min(n_unknown, len(other))
    picked += list(rng.choice(other, n_other, replace=False))
    order = [picked[i] for i in rng.permutation(len(picked))]
    audio, truth = keyword_stream([(val.words[i], val.audio[i]) for i in order],
                                lambda n, r: noise.segment(rng, n, r), rng)
    return Stream(audio, truth, n_other, "real: speech_commands_v2_dev clips of the validation speakers, "
                  "background_noise gaps", speakers=len({val.speakers[i] for i in order}))


def generated_stream(n_keywords: int, n_unknown: int, rng: np.random.Generator, seed: int) -> Stream:
    """Keywords and other words by espeak-ng/flite (model.synth), trimmed, with pink-noise gaps."""
    per_word = -(-n_keywords // len(KEYWORDS))
    kw = synthesize_words(KEYWORDS, per_word, seed=seed, engines=RECIPE_ENGINES, progress=False)
    other = synthesize_words(DISTRACTORS, max(1, -(-n_unknown // len(DISTRACTORS))), seed=seed, engines=RECIPE_ENGINES, progress=False)
    k_idx = rng.permutation(len(kw))[:n_keywords]
    o_idx = rng.permutation(len(other))[:n_unknown]
    words = [(kw.words[i], trim_silence(kw.audio[i])) for i in k_idx]
    words += [("_unknown_", trim_silence(other.audio[i])) for i in o_idx]
    words = [words[i] for i in rng.permutation(len(words))]
    noise_rng = np.random.default_rng(seed + 1)

    def gap(n: int, r: float) -> np.ndarray:
        return np.clip(np.round(pink_noise(noise_rng, max(n, 2)) * r), -32768, 32767).astype(np.int16)[:n]

    audio, truth = keyword_stream(words, gap, rng)
    voices = {kw.speakers[i] for i in k_idx} | {other.speakers[i] for i in o_idx}
    return Stream(audio, truth, len(words) - len(truth), "generated: espeak-ng/flite words, pink-noise gaps",
                  speakers=len(voices))


def read_truth_csv(path: Path) -> tuple[list[Keyword], int]:
    """(keywords, number of distractor rows) of a truth CSV with header `start_s,end_s,label`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")         # a BOM (spreadsheet export) is no part of the header
    except FileNotFoundError:
        raise BitearError(f"truth file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BitearError(f"truth file {path}: not readable ({e})") from None
    rows = list(csv.reader(text.splitlines()))
    header = tuple(c.strip() for c in rows[0]) if rows else ()
    if header != TRUTH_COLUMNS:
        raise BitearError(f"truth file {path}: header must be {','.join(TRUTH_COLUMNS)}, found {','.join(header) or '(empty file)'}")
    keywords, distractors = [], 0
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 3:
            raise BitearError(f"truth file {path}, line {line}: 3 columns expected, found {len(row)}")
        try:
            start, end = float(row[0]), float(row[1])
        except ValueError:
            raise BitearError(f"truth file {path}, line {line}: start_s and end_s must be numbers, "
                              f"found {row[0].strip()!r}, {row[1].strip()!r}") from None
        label = row[2].strip()
        if not (np.isfinite(start) and np.isfinite(end)) or start < 0:
            raise BitearError(f"truth file {path}, line {line}: times must be finite and >= 0, found {start}, {end}")
        if end < start:
            raise BitearError(f"truth file {path}, line {line}: end_s {end} is before start_s {start}")
        if not label:
            raise BitearError(f"truth file {path}, line {line}: empty label")
        if label in KEYWORDS:
            keywords.append(Keyword(int(round(start * 1000)), int(round(end * 1000)), label))
        else:
            distractors += 1
    return sorted(keywords), distractors


def wav_stream(wav: Path, truth_csv: Path, tail_s: float = 1.0) -> Stream:
    """A recording (any rate / channels -> 16 kHz mono, `tail_s` of silence appended as host.listen
    does, so the last word still gets its results) and its truth CSV."""
    keywords, distractors = read_truth_csv(truth_csv)
    recording = np.concatenate([np.zeros(0, np.int16), *stream_16k(wav)])   # the stream is scored whole
    audio = np.concatenate([recording, np.zeros(round(tail_s * SAMPLE_RATE), np.int16)])
    length_s = len(recording) / SAMPLE_RATE
    late = [k for k in keywords if k.onset_ms > length_s * 1000]
    if late:
        raise BitearError(f"truth file {truth_csv}: keyword {late[0].word!r} starts at {late[0].onset_ms / 1000:g} s, "
                          f"after the end of {wav} ({length_s:.2f} s)")
    info = audio_info(wav)
    return Stream(audio[:len(audio) // HOP * HOP], keywords, distractors,
                  f"recording: {Path(wav).name} ({info.rate} Hz, {info.channels} ch -> 16 kHz mono, {length_s:.1f} s), "
                  f"truth {Path(truth_csv).name}")
