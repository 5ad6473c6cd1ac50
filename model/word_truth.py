"""Where a spoken word starts and ends (the truth rule of every stream), and streams of words with that truth.

A word's onset is the first 10 ms frame of its clip within 20 dB of the clip's loudest frame
(`speech_onset`), its end the end of the last such frame (`word_end`). `keyword_stream` lays words out
with model.streams.build_stream, each after a gap of 1-2 s of noise at its own level (log-uniform over
RMS 3..300, model.streams.NOISE_RMS), and returns the keywords' onsets and ends in ms: the truth that
host.stream_scoring scores detections against.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from model.datasets import log_uniform
from model.facts import HOP, KEYWORDS, SAMPLE_RATE
from model.streams import NOISE_RMS, build_stream

FRAME = SAMPLE_RATE // 100                  # 10 ms: the frame of the onset / end rule
BELOW_PEAK_DB = 20.0


class Keyword(NamedTuple):
    """One spoken keyword of a stream."""
    onset_ms: int
    end_ms: int
    word: str


def _loud_frames(clip: np.ndarray, below_peak_db: float) -> np.ndarray:
    """Indices of the 10 ms frames whose RMS is within below_peak_db of the loudest frame."""
    n = len(clip) // FRAME
    rms = np.sqrt(np.mean(clip[:n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2, axis=1))
    if n == 0 or rms.max() <= 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero(rms >= rms.max() * 10 ** (-below_peak_db / 20))


def speech_onset(clip: np.ndarray, below_peak_db: float = BELOW_PEAK_DB) -> int:
    """Sample index where the first 10 ms frame within below_peak_db of the loudest frame starts (0 for silence)."""
    loud = _loud_frames(clip, below_peak_db)
    return int(loud[0]) * FRAME if len(loud) else 0


def word_end(clip: np.ndarray, below_peak_db: float = BELOW_PEAK_DB) -> int:
    """Sample index where the last 10 ms frame within below_peak_db of the loudest frame ends (0 for silence)."""
    loud = _loud_frames(clip, below_peak_db)
    return (int(loud[-1]) + 1) * FRAME if len(loud) else 0


def keyword_stream(words: list[tuple[str, np.ndarray]], gap_noise: Callable[[int, float], np.ndarray],
                   rng: np.random.Generator, gap_s: tuple[float, float] = (1.0, 2.0),
                   rms: tuple[float, float] = NOISE_RMS, keywords: Sequence[str] = KEYWORDS) -> tuple[np.ndarray, list[Keyword]]:
    """words: (word, int16 clip) in stream order; gap_noise(n, rms) -> int16 noise. Each word follows a
    gap at a level drawn from `rms`; a last gap at rms[0] ends the stream. Returns (audio in whole hops,
    the words that are `keywords`, with their onset and end)."""
    def gap(n: int, last: bool) -> np.ndarray:
        return gap_noise(n, rms[0] if last else log_uniform(rng, rms))

    audio, starts = build_stream([clip for _, clip in words], gap, rng, gap_s)
    truth = [Keyword((start + speech_onset(clip)) * 1000 // SAMPLE_RATE, (start + word_end(clip)) * 1000 // SAMPLE_RATE, word)
             for (word, clip), start in zip(words, starts) if word in keywords]
    return audio[:len(audio) // HOP * HOP], truth
