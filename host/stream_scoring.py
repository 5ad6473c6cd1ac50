"""Scoring a stream's detections against its keywords: the project's one matching rule (`summarize`,
used by host.demo, host.streaming_quality and host.evaluate's streams) and one row of host.streaming_quality (`score`).

A detection answers a keyword when it comes 0 .. `latency_ms` (LATENCY_MS, 2000) after the keyword's
onset; each keyword and each detection is used once, in time order, preferring the right label.
Right label = hit, another label = wrong label, no answer = missed; detections that answer no keyword
(also those on other words) are false detections.

A detection's time is the end of the audio window it was decided on (result hop x 20 ms).
Latency, over the hits: from the onset (first 10 ms frame within 20 dB of the clip's peak) and
from the end of the word (end of the last such frame); the second is what a user waits after
saying the word, and may be negative when the detector fires before the word is over.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from model.facts import HOP_MS, LABELS
from model.word_truth import Keyword

LATENCY_MS = 2000


@dataclass
class Row:
    keyword: str
    onset_ms: int
    heard: str | None = None              # label of the detection that answered it
    time_ms: int | None = None
    score: float | None = None

    @property
    def detected(self) -> bool:
        return self.heard == self.keyword

    @property
    def latency_ms(self) -> int | None:
        return None if self.time_ms is None else self.time_ms - self.onset_ms


@dataclass
class Summary:
    rows: list[Row]
    false_detections: list[tuple[int, str, float]] = field(default_factory=list)   # (time ms, label, score)

    @property
    def detected(self) -> int:
        return sum(r.detected for r in self.rows)

    @property
    def wrong(self) -> int:
        return sum(r.heard is not None and not r.detected for r in self.rows)

    @property
    def missed(self) -> int:
        return sum(r.heard is None for r in self.rows)


def summarize(truth: Sequence[tuple[int, str]], detections: Sequence[tuple[int, str, float]],
              latency_ms: int = LATENCY_MS) -> Summary:
    """Match detections (time ms, label, score) to the spoken keywords (onset ms, label)."""
    events = sorted(detections)
    used = [False] * len(events)
    rows = []
    for onset, word in sorted(truth):
        window = [i for i, (t, _, _) in enumerate(events) if not used[i] and 0 <= t - onset <= latency_ms]
        right = [i for i in window if events[i][1] == word]
        row = Row(word, onset)
        if right or window:
            i = (right or window)[0]
            used[i] = True
            row.time_ms, row.heard, row.score = events[i]
        rows.append(row)
    return Summary(rows, [e for e, u in zip(events, used) if not u])


def detections_ms(detections: Sequence[tuple[int, int, int]]) -> list[tuple[int, str, float]]:
    """(hop, label index, score_q15) as the firmware reports them -> (time ms, label name, score)."""
    return [(hop * HOP_MS, LABELS[label], q15 / 32768) for hop, label, q15 in detections]


def _median(values: list[int]) -> float | None:
    return float(np.median(values)) if values else None


def score(keywords: Sequence[Keyword], detections: Sequence[tuple[int, str, float]], duration_s: float,
          latency_ms: int = LATENCY_MS) -> dict:
    """Detection rate, wrong label, missed, false detections (count and per hour), median latency
    from the onset and from the end of the word, for detections (time ms, label, score)."""
    ordered = sorted(keywords)
    s = summarize([(k.onset_ms, k.word) for k in ordered], detections, latency_ms)
    hits = [(row, k) for row, k in zip(s.rows, ordered) if row.detected]
    return {
        "detection_rate": s.detected / len(s.rows) if s.rows else 0.0,
        "hits": s.detected, "wrong_label": s.wrong, "missed": s.missed, "keywords": len(s.rows),
        "false_detections": len(s.false_detections),
        "false_detections_per_hour": len(s.false_detections) / (duration_s / 3600) if duration_s > 0 else 0.0,
        "median_latency_ms": _median([row.time_ms - k.onset_ms for row, k in hits]),
        "median_latency_from_end_ms": _median([row.time_ms - k.end_ms for row, k in hits]),
        "duration_s": round(duration_s, 1),
    }
