"""Scoring a stream's detections against its keywords: one row of host.streaming_quality.

The matching rule is host.demo.summarize's (that of host.detector.score_events): a detection
answers a keyword when it comes 0 .. `latency_ms` (2000) after the keyword's onset; each keyword
and each detection is used once, in time order, preferring the right label. Right label = hit,
another label = wrong label, no answer = missed; detections that answer no keyword (also those on
other words) are false detections.

A detection's time is the end of the audio window it was decided on (result hop x 20 ms).
Latency, over the hits: from the onset (first 10 ms frame within 20 dB of the clip's peak) and
from the end of the word (end of the last such frame); the second is what a user waits after
saying the word, and may be negative when the detector fires before the word is over.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from host import demo
from model.facts import HOP_MS, LABELS
from model.word_truth import Keyword



def detections_ms(detections: Sequence[tuple[int, int, int]]) -> list[tuple[int, str, float]]:
    """(hop, label index, score_q15) as the firmware reports them -> (time ms, label name, score)."""
    return [(hop * HOP_MS, LABELS[label], q15 / 32768) for hop, label, q15 in detections]


def _median(values: list[int]) -> float | None:
    return float(np.median(values)) if values else None


def score(keywords: Sequence[Keyword], detections: Sequence[tuple[int, str, float]], duration_s: float,
          latency_ms: int = demo.LATENCY_MS) -> dict:
    """Detection rate, wrong label, missed, false detections (count and per hour), median latency
    from the onset and from the end of the word, for detections (time ms, label, score)."""
    ordered = sorted(keywords)
    s = demo.summarize([(k.onset_ms, k.word) for k in ordered], detections, latency_ms)
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
