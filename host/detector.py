"""The keyword detector of firmware/lib/bitear/bitear_detector.c in Python, bit for bit.

    from host.detector import Detector, DetectorParams
    det = Detector(DetectorParams(classes=12, never_mask=0b11))
    for hop, scores in results:                    # scores: Q15 softmax per class (uint16)
        ev = det.process(hop * 20, scores)
        if ev.is_new: print(labels[ev.label], ev.score_q15 / 32768)

The same integer arithmetic as the C (ring of the last CAPACITY results, running sums, floor
average, lowest index on ties, wrap-around ms), so evaluating the streaming metrics of a model on
the host gives exactly the events the board would report for the same scores
(tests/test_detector.py checks it on random score streams against the compiled C). The contract —
window, threshold, suppression, minimum count, never-triggering classes, latching of a held
word — is written once, in bitear_detector.h; its sizes and defaults are read from there (model.facts).

`min_count_for_period(n)` is the minimum count the board sets for an inference every n hops
(SET_PERIOD keeps the count's time span, app.h); `detect(times_ms, scores, params)` runs a whole
stream and returns the events (host.stream_scoring scores them against a stream's keywords).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from model.facts import DETECTOR_CAPACITY as CAPACITY
from model.facts import DETECTOR_DEFAULTS, DETECTOR_MIN_SPAN_MS, HOP_MS, LABELS, PERIOD_LIMITS
from model.facts import DETECTOR_MAX_CLASSES as MAX_CLASSES

U32 = 0xFFFF_FFFF
# Classes that never trigger an event: those whose label starts with "_" (_silence_, _unknown_),
# the rule of app.c.
NEVER_MASK = sum(1 << c for c, name in enumerate(LABELS) if name.startswith("_"))


@dataclass(frozen=True)
class DetectorParams:
    classes: int = len(LABELS)
    never_mask: int = NEVER_MASK         # bit c: class c never triggers
    window_ms: int = DETECTOR_DEFAULTS["window_ms"]
    threshold_q15: int = DETECTOR_DEFAULTS["threshold_q15"]
    suppression_ms: int = DETECTOR_DEFAULTS["suppression_ms"]
    min_count: int = DETECTOR_DEFAULTS["min_count"]

    def check(self, capacity: int = CAPACITY, max_classes: int = MAX_CLASSES) -> None:
        """ValueError for what bitear_detector_init rejects with BITEAR_ERR_ARG."""
        if not (1 <= self.classes <= max_classes and 0 <= self.threshold_q15 <= 32768
                and 1 <= self.min_count <= capacity and 0 <= self.window_ms <= 0xFFFF
                and 0 <= self.suppression_ms <= 0xFFFF and 0 <= self.never_mask <= U32):
            raise ValueError(f"detector parameters out of range: {self}")


def min_count_for_period(period_hops: int) -> int:
    """The minimum count the board's detector gets for an inference every `period_hops` hops
    (app.h, app_detector_min_count): the results in DETECTOR_MIN_SPAN_MS (240 ms, the default
    count at 4 hops), rounded up, within 1 .. CAPACITY. ValueError outside PERIOD_LIMITS (1 .. 255)."""
    low, high = PERIOD_LIMITS
    if not low <= period_hops <= high:
        raise ValueError(f"an inference period of {period_hops} hops is outside {low} .. {high}")
    period_ms = period_hops * HOP_MS
    return max(1, min(CAPACITY, -(-DETECTOR_MIN_SPAN_MS // period_ms)))


@dataclass(frozen=True)
class DetectorEvent:
    label: int                            # top class of the averages, -1: no decision
    score_q15: int                        # its average (0 when label is -1)
    is_new: bool                          # a keyword event


class Detector:
    """bitear_detector_t: init with params, process(now_ms, scores) per result, reset()."""

    def __init__(self, params: DetectorParams = DetectorParams(), capacity: int = CAPACITY):
        params.check(capacity)
        self.params = params
        self.capacity = capacity
        self.reset()

    def reset(self) -> None:
        self._ring: list[tuple[int, tuple[int, ...]]] = []   # oldest first: (time_ms, scores)
        self._sums = [0] * self.params.classes
        self.last_label = -1
        self.last_ms = 0
        self.latched = False

    def set_params(self, params: DetectorParams) -> None:
        params.check(self.capacity)
        self.params = params
        self.reset()

    def _drop_oldest(self) -> None:
        _, old = self._ring.pop(0)
        for c, s in enumerate(old):
            self._sums[c] -= s

    def process(self, now_ms: int, scores: Sequence[int]) -> DetectorEvent:
        p = self.params
        now_ms &= U32
        scores = tuple(int(s) & 0xFFFF for s in scores[:p.classes])
        if len(scores) != p.classes:
            raise ValueError(f"{p.classes} scores expected, got {len(scores)}")
        # 1. add the result (making room if the ring is full), then let old results go
        if self._ring:
            back = (now_ms - self._ring[-1][0]) & U32
            if back >= 1 << 31:
                raise ValueError(f"time went backwards: {now_ms} ms after {self._ring[-1][0]} ms")
        if len(self._ring) == self.capacity:
            self._drop_oldest()
        self._ring.append((now_ms, scores))
        for c, s in enumerate(scores):
            self._sums[c] += s
        while ((now_ms - self._ring[0][0]) & U32) > p.window_ms:
            self._drop_oldest()
        # 2. enough results to decide?
        count = len(self._ring)
        if count < p.min_count:
            return DetectorEvent(-1, 0, False)
        # 3. top class of the averages (lowest index on ties)
        top = max(range(p.classes), key=lambda c: (self._sums[c], -c))
        average = self._sums[top] // count
        above = average >= p.threshold_q15
        # 4. a new event?
        if self.latched and (top != self.last_label or not above):
            self.latched = False
        quiet = self.last_label < 0 or ((now_ms - self.last_ms) & U32) >= p.suppression_ms
        is_new = above and not (p.never_mask >> top) & 1 and not self.latched and quiet
        if is_new:
            self.last_label, self.last_ms, self.latched = top, now_ms, True
        return DetectorEvent(top, average, bool(is_new))


def detect(times_ms: Iterable[int], scores: Iterable[Sequence[int]], params: DetectorParams = DetectorParams(),
           capacity: int = CAPACITY) -> list[tuple[int, int, int]]:
    """Run a whole stream; the keyword events as (time_ms, label, score_q15)."""
    det = Detector(params, capacity)
    events = []
    for t, s in zip(times_ms, scores):
        ev = det.process(t, s)
        if ev.is_new:
            events.append((t, ev.label, ev.score_q15))
    return events
