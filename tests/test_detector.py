"""The keyword detector: C (firmware/lib/bitear/bitear_detector.c) against its Python mirror
(host/detector.py), event for event, plus the behaviour the contract in bitear_detector.h promises.

tests/test_detector_driver.c runs the C detector over a text script (P = init, R = result,
Z = reset); run_python() produces the same transcript from host.detector. Every scenario below
runs through both and checks they agree before looking at the events.
"""
from __future__ import annotations

import math
import random
import subprocess
from pathlib import Path

import pytest

from host.detector import CAPACITY, MAX_CLASSES, Detector, DetectorParams, detect
from model.facts import LABELS
from model.paths import PLUGIN_DIR
from model.toolchain import SANITIZE
from tests.c_build import build_driver

ROOT = Path(__file__).resolve().parent.parent
C_DIR = PLUGIN_DIR
DRIVER = Path(__file__).with_name("test_detector_driver.c")
SILENCE, UNKNOWN, YES, NO = 0, 1, 2, 3
BITEAR_ERR_ARG, BITEAR_ERR_STATE = -2, -4


def _build(out: Path, flags: list[str]) -> Path:
    return build_driver(out, DRIVER, ["bitear_detector.c"], flags)


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("det") / "driver", ["-O2"])


@pytest.fixture(scope="module")
def driver_asan(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("det_asan") / "driver", SANITIZE)


def p_line(p: DetectorParams) -> str:
    return f"P {p.classes} {p.never_mask} {p.window_ms} {p.threshold_q15} {p.suppression_ms} {p.min_count}"


def run_c(exe: Path, script: list[str]) -> list[str]:
    res = subprocess.run([str(exe)], input="\n".join(script) + "\n", capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stderr == "", res.stderr[-3000:]
    return res.stdout.splitlines()


def run_python(script: list[str]) -> list[str]:
    out, det = [], None
    for line in script:
        op, *args = line.split()
        if op == "P":
            classes, mask, window, threshold, suppression, min_count = map(int, args)
            try:
                det = Detector(DetectorParams(classes, mask, window, threshold, suppression, min_count))
                out.append("P 0")
            except ValueError:
                det = None
                out.append(f"P {BITEAR_ERR_ARG}")
        elif det is None:                                      # init failed: BITEAR_ERR_STATE
            out.append(f"Z {BITEAR_ERR_STATE}" if op == "Z" else f"{BITEAR_ERR_STATE} -1 0 0")
        elif op == "Z":
            det.reset()
            out.append("Z 0")
        else:
            now, *scores = map(int, args)
            scores += [0] * (det.params.classes - len(scores))
            try:
                ev = det.process(now, scores)
                out.append(f"0 {ev.label} {ev.score_q15} {int(ev.is_new)}")
            except ValueError:
                out.append(f"{BITEAR_ERR_ARG} -1 0 0")
    return out


def run_both(driver: Path, params: DetectorParams, stream: list[tuple[int, list[int]]]) -> list[tuple[int, int, int]]:
    """Run a stream through C and Python; assert identical; return events (time_ms, label, score)."""
    script = [p_line(params)] + [f"R {t} " + " ".join(map(str, s)) for t, s in stream]
    c = run_c(driver, script)
    assert c == run_python(script)
    assert c[0] == "P 0"
    events = []
    for (t, _), line in zip(stream, c[1:]):
        st, label, score, new = map(int, line.split())
        assert st == 0
        if new:
            events.append((t, label, score))
    assert events == detect([t for t, _ in stream], [s for _, s in stream], params)
    return events


def scores_for(top: int, p_top: float, classes: int = 12) -> list[int]:
    """Q15 scores: class `top` gets p_top, the rest shares 1 - p_top evenly (sum ~ 32768)."""
    rest = int((1 - p_top) * 32768) // (classes - 1)
    return [int(p_top * 32768) if c == top else rest for c in range(classes)]


def hop_stream(segments: list[tuple[int, int, float]], every_ms: int = 40, t0: int = 0):
    """[(duration_ms, top class, p_top), ...] -> [(time_ms, scores)] with a result every every_ms."""
    stream, t = [], t0
    for duration, top, p in segments:
        for _ in range(duration // every_ms):
            stream.append((t & 0xFFFF_FFFF, scores_for(top, p)))
            t += every_ms
    return stream


PARAMS = DetectorParams(classes=12, never_mask=0b11, window_ms=200, threshold_q15=int(0.6 * 32768),
                        suppression_ms=1500, min_count=3)


# ---- the contract on synthetic streams -----------------------------------------------------------

def test_a_keyword_held_for_300_ms_triggers_once(driver):
    stream = hop_stream([(1000, SILENCE, 0.95), (300, YES, 0.9), (1000, SILENCE, 0.95)])
    events = run_both(driver, PARAMS, stream)
    assert [e[1] for e in events] == [YES]
    assert events[0][0] in range(1000, 1300) and events[0][2] >= PARAMS.threshold_q15


def test_a_word_held_far_longer_than_the_suppression_time_triggers_once(driver):
    stream = hop_stream([(500, SILENCE, 0.95), (5000, YES, 0.9), (500, SILENCE, 0.95)])
    assert [e[1] for e in run_both(driver, PARAMS, stream)] == [YES]


def test_suppression_prevents_a_repeat_then_allows_it(driver):
    # yes, a short gap, yes again 600 ms later (suppressed), then again 2 s later (new event)
    stream = hop_stream([(400, SILENCE, 0.95), (300, YES, 0.9), (300, SILENCE, 0.95), (300, YES, 0.9),
                         (2000, SILENCE, 0.95), (300, YES, 0.9), (400, SILENCE, 0.95)])
    events = run_both(driver, PARAMS, stream)
    assert [e[1] for e in events] == [YES, YES]
    assert events[1][0] - events[0][0] >= PARAMS.suppression_ms
    # another keyword inside the suppression time is suppressed too
    stream = hop_stream([(400, SILENCE, 0.95), (300, YES, 0.9), (200, SILENCE, 0.95), (300, NO, 0.9),
                         (1000, SILENCE, 0.95)])
    assert [e[1] for e in run_both(driver, PARAMS, stream)] == [YES]


def test_too_few_results_in_the_window_give_no_decision(driver):
    # results 150 ms apart: a 200 ms window never holds 3 of them
    stream = hop_stream([(600, SILENCE, 0.95), (3000, YES, 0.99)], every_ms=150)
    assert run_both(driver, PARAMS, stream) == []
    lines = run_c(driver, [p_line(PARAMS)] + [f"R {t} " + " ".join(map(str, s)) for t, s in stream])
    assert all(line == "0 -1 0 0" for line in lines[1:])
    # the same with min_count 1 fires
    one = DetectorParams(**{**PARAMS.__dict__, "min_count": 1})
    assert [e[1] for e in run_both(driver, one, stream)] == [YES]


def test_noise_below_the_threshold_gives_nothing(driver):
    rng = random.Random(3)
    stream = []
    for i in range(500):
        raw = [rng.random() for _ in range(12)]                  # flat random "softmax"
        total = sum(raw)
        stream.append((i * 40, [int(32768 * r / total) for r in raw]))
    assert max(max(s) for _, s in stream) < 32768 * 0.3
    assert run_both(driver, PARAMS, stream) == []


def test_silence_and_unknown_never_trigger(driver):
    stream = hop_stream([(1000, SILENCE, 0.99), (1000, UNKNOWN, 0.99), (2000, SILENCE, 0.99)])
    assert run_both(driver, PARAMS, stream) == []
    everything = DetectorParams(**{**PARAMS.__dict__, "never_mask": 0})
    # with an empty mask they are ordinary classes: each change of the top class fires (after suppression)
    assert [e[1] for e in run_both(driver, everything, stream)] == [SILENCE, UNKNOWN, SILENCE]


def test_window_average_and_capacity(driver):
    # one strong result among weak ones: the average, not the peak, must reach the threshold
    stream = [(0, scores_for(YES, 0.1)), (40, scores_for(YES, 0.1)), (80, scores_for(YES, 1.0))]
    assert run_both(driver, DetectorParams(**{**PARAMS.__dict__, "threshold_q15": 16384}), stream) == []
    # results at the same millisecond all count; a window of 0 ms holds only the newest time
    same = [(1000, scores_for(YES, 0.9))] * 3
    assert [e[1] for e in run_both(driver, DetectorParams(**{**PARAMS.__dict__, "window_ms": 0}), same)] == [YES]
    # more results than the ring holds: the oldest go, the average covers CAPACITY results
    det = Detector(DetectorParams(**{**PARAMS.__dict__, "window_ms": 60000, "never_mask": 0}))
    for i in range(CAPACITY):
        det.process(i, scores_for(SILENCE, 1.0))
    for i in range(CAPACITY):
        ev = det.process(CAPACITY + i, scores_for(YES, 1.0))
    assert ev.label == YES and ev.score_q15 == 32768


def test_time_may_wrap_but_not_go_backwards(driver):
    stream = hop_stream([(400, SILENCE, 0.95), (300, YES, 0.9), (400, SILENCE, 0.95)], t0=(1 << 32) - 500)
    events = run_both(driver, PARAMS, stream)
    assert [e[1] for e in events] == [YES] and events[0][0] < 1000       # fired after the wrap
    script = [p_line(PARAMS), "R 1000 " + " ".join(["100"] * 12), "R 999 " + " ".join(["100"] * 12),
              "R 1000 " + " ".join(["100"] * 12)]
    assert run_c(driver, script) == run_python(script) == ["P 0", "0 -1 0 0", f"{BITEAR_ERR_ARG} -1 0 0", "0 -1 0 0"]


def test_parameters_out_of_range_are_rejected(driver):
    bad = [DetectorParams(classes=0), DetectorParams(classes=MAX_CLASSES + 1), DetectorParams(min_count=0),
           DetectorParams(min_count=CAPACITY + 1), DetectorParams(threshold_q15=32769)]
    script = [p_line(p) for p in bad] + [p_line(DetectorParams(min_count=CAPACITY))]
    assert run_c(driver, script) == run_python(script) == [f"P {BITEAR_ERR_ARG}"] * len(bad) + ["P 0"]


# ---- C == Python on random streams ----------------------------------------------------------------

def random_script(rng: random.Random) -> list[str]:
    """One random stream: random (sometimes invalid) params, silence/keyword/unknown segments with
    ramps and noise, uneven steps (0 ms, gaps, near the 2^32 wrap), resets, re-inits, time errors."""
    def params() -> DetectorParams:
        if rng.random() < 0.1:                                  # out of range: init fails
            return rng.choice([DetectorParams(classes=0), DetectorParams(min_count=0),
                               DetectorParams(min_count=CAPACITY + 1), DetectorParams(threshold_q15=40000)])
        return DetectorParams(classes=rng.randrange(1, MAX_CLASSES + 1) if rng.random() < 0.2 else 12,
                              never_mask=rng.choice([0b11, 0, 0b1, rng.randrange(1 << 32)]),
                              window_ms=rng.choice([0, 100, 300, 500, 1000, 2000, rng.randrange(1 << 16)]),
                              threshold_q15=rng.choice([0, 8000, 16384, 22938, 30000, 32768, rng.randrange(33000)]),
                              suppression_ms=rng.choice([0, 200, 1000, 1500, rng.randrange(1 << 16)]),
                              min_count=rng.choice([1, 2, 3, 5, CAPACITY]))

    p = params()
    script = [p_line(p)]
    t = rng.choice([0, rng.randrange(1 << 32), (1 << 32) - rng.randrange(1, 3000)])
    step = rng.choice([20, 40, 60, 100])
    for _ in range(rng.randrange(5, 40)):                       # segments
        classes = min(max(p.classes, 1), MAX_CLASSES)          # (params may be invalid)
        top = rng.randrange(classes)
        peak = rng.choice([0.3, 0.6, 0.8, 0.95, 1.0])
        length = rng.randrange(1, 40)
        for i in range(length):
            level = peak * math.sin(math.pi * (i + 0.5) / length) ** 0.5
            scores = [max(0, min(65535, int(rng.gauss(1, 0.3) * (1 - level) * 32768 / max(1, classes - 1))))
                      for _ in range(classes)]
            scores[top] = min(32768, int(level * 32768) + rng.randrange(0, 200))
            if rng.random() < 0.05:
                scores = [rng.randrange(65536) for _ in range(classes)]
            script.append(f"R {t & 0xFFFF_FFFF} " + " ".join(map(str, scores)))
            r = rng.random()
            t += 0 if r < 0.03 else rng.randrange(500, 4000) if r < 0.05 else step + rng.randrange(-5, 6)
            if rng.random() < 0.01:
                script.append(f"R {(t - rng.randrange(1, 100)) & 0xFFFF_FFFF} " + " ".join(["0"] * classes))
        if rng.random() < 0.05:
            script.append("Z")
        if rng.random() < 0.03:
            p2 = params()
            if 1 <= p2.classes <= MAX_CLASSES and 1 <= p2.min_count <= CAPACITY and p2.threshold_q15 <= 32768:
                p = p2
                script.append(p_line(p))
    return script


def test_c_and_python_agree_on_random_streams(driver):
    rng = random.Random(1234)
    scripts = [random_script(rng) for _ in range(150)]
    assert len({tuple(s) for s in scripts}) == len(scripts)
    blob = [line for s in scripts for line in s]
    c = run_c(driver, blob)
    assert c == run_python(blob)
    results = [line for line in c if not line.startswith(("P", "Z"))]
    assert sum(line.endswith(" 1") for line in results) >= 100          # many events,
    assert sum(line.endswith(" 0") and " -1 " not in line for line in results) > 1000   # many decisions without,
    assert sum(line.startswith(f"{BITEAR_ERR_ARG} ") for line in results) >= 5         # and time errors
    assert sum(line == f"P {BITEAR_ERR_ARG}" for line in c) >= 5                        # and bad params


def test_random_streams_under_sanitizers(driver_asan):
    rng = random.Random(77)
    blob = [line for _ in range(40) for line in random_script(rng)]
    assert run_c(driver_asan, blob) == run_python(blob)


def test_cortex_m4_cost_of_one_result():
    """Exact instructions of bitear_detector_process with a full ring on the Cortex-M4 (unicorn)."""
    import struct

    import numpy as np

    from model.m4run import M4Program

    p = PARAMS
    with M4Program([C_DIR / "bitear_detector.c"], [C_DIR]) as prog:
        params = prog.put(struct.pack("<B3xIHHHB1x", p.classes, p.never_mask, p.window_ms, p.threshold_q15,
                                      p.suppression_ms, p.min_count))
        det, event = prog.alloc(2048), prog.alloc(8)
        assert prog.call("bitear_detector_init", det, params).ret == 0
        scores = prog.put(np.array(scores_for(YES, 0.9), np.uint16))
        counts, py = [], Detector(p)
        for i in range(40):
            r = prog.call("bitear_detector_process", det, i * 40, scores, event)
            assert r.ret == 0
            counts.append(r.instructions)
            label, score, is_new = struct.unpack("<hHB", prog.read(event, 5))
            ev = py.process(i * 40, scores_for(YES, 0.9))
            assert (label, score, bool(is_new)) == (ev.label, ev.score_q15, ev.is_new)
    # ~ 12 classes x (add + subtract) + argmax + one division: a few hundred instructions
    assert max(counts[10:]) <= 500, counts          # measured 370 (12 classes, 200 ms window, every 40 ms)
    print(f"\nM4: bitear_detector_process {min(counts[10:])}..{max(counts[10:])} instructions per result")


def test_stream_scoring_counts_hits_misses_confusions_and_false_alarms():
    from host.stream_scoring import summarize

    truth = [(1000, "yes"), (4000, "no"), (8000, "yes"), (12000, "no")]
    events = [(1400, "yes", 0.9), (4500, "yes", 0.8), (6000, "no", 0.7), (8200, "yes", 0.9), (8300, "yes", 0.9)]
    s = summarize(truth, events, latency_ms=1500)
    assert (s.detected, s.wrong, s.missed, len(s.false_detections)) == (2, 1, 1, 2)
    assert [t for t, _, _ in s.false_detections] == [6000, 8300]
    assert summarize([], []).rows == []
    # end to end on a synthetic stream: the detector's events score as hits
    stream = hop_stream([(1000, SILENCE, 0.95), (300, YES, 0.9), (2000, SILENCE, 0.95), (300, NO, 0.9),
                         (1000, SILENCE, 0.95)])
    events = detect([t for t, _ in stream], [s for _, s in stream], PARAMS)
    s = summarize([(1000, "yes"), (3300, "no")], [(t, LABELS[label], q15 / 32768) for t, label, q15 in events], 1500)
    assert (s.detected, s.wrong, s.missed, len(s.false_detections)) == (2, 0, 0, 0)
