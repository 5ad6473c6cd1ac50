"""host/streaming_quality.py: the long stream's layout and truth (gaps, onsets, distractors), and a
short generated stream through the evaluation build with the metrics' bookkeeping consistent."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from host import streaming_quality as sq
from host.detector import DetectorParams

pytestmark = pytest.mark.timeout(300)


def test_speech_onset_finds_the_first_loud_frame():
    clip = np.zeros(16000, np.int16)
    clip[4000:9000] = 5000
    clip[:4000] = 20                      # quiet noise before: below -20 dB of the peak
    assert sq.speech_onset(clip) == 4000
    assert sq.speech_onset(np.zeros(16000, np.int16)) == 0


def test_build_stream_places_words_after_gaps_and_keeps_keyword_onsets():
    rng = np.random.default_rng(0)
    word = np.zeros(16000, np.int16)
    word[8000:12000] = 9000
    words = [("yes", word), ("_unknown_", word), ("go", word)]
    calls = []

    def gap(n, rms):
        calls.append((n, rms))
        return np.zeros(n, np.int16)

    audio, truth = sq.build_stream(words, gap, rng, gap_s=(1.0, 1.0), rms=(3.0, 300.0))
    assert len(audio) % 320 == 0
    assert [w for _, w in truth] == ["yes", "go"]                 # the distractor is not a keyword
    assert truth[0][0] == 1000 + 500 and truth[1][0] == 3 * 1000 + 2 * 1000 + 500
    assert [n for n, _ in calls] == [16000] * 4             # three gaps before the words, one to end
    assert all(3.0 <= r <= 300.0 for _, r in calls)
    assert np.array_equal(audio[16000 + 8000:16000 + 12000], word[8000:12000])


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("espeak-ng") is None,
                    reason="needs qemu-system-arm and espeak-ng")
def test_short_generated_stream_metrics_are_consistent():
    stream = sq.generated_stream(10, 3, np.random.default_rng(0), seed=0)
    assert len(stream.truth) == 10 and stream.distractors == 3
    r = sq.measure(stream, infer_every=2, detector=DetectorParams())
    assert r["keywords"] == 10 and r["hits"] + r["wrong_label"] + r["missed"] == 10
    assert r["detection_rate"] == r["hits"] / 10
    assert r["false_detections_per_hour"] == pytest.approx(r["false_detections"] / (r["duration_s"] / 3600), rel=1e-3)
    assert r["inferences"] == (len(stream.audio) // 320 - 49) // 2 + 1
    assert r["path"] == "semihosting" and r["avg_instructions_inference"] > 0
    if r["hits"]:
        assert 0 <= r["median_latency_ms"] <= 2000


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("espeak-ng") is None,
                    reason="needs qemu-system-arm and espeak-ng")
def test_sweep_replays_the_firmware_detector_on_the_host():
    # sweep() itself refuses a stream where the host replay of the default settings differs from the
    # firmware's detections; here the default row must also score exactly like a measured run
    stream = sq.generated_stream(6, 2, np.random.default_rng(1), seed=1)
    d = DetectorParams()
    rows = sq.sweep(stream, infer_every=2, windows_ms=(d.window_ms + 250, d.window_ms), thresholds=(0.45, d.threshold_q15 / 32768),
                    min_counts=(1, d.min_count))
    assert len(rows) == 8
    measured = sq.measure(stream, infer_every=2, detector=d)
    (default,) = [r for r in rows if (r["window_ms"], round(r["threshold"] * 32768), r["min_count"]) == (d.window_ms, d.threshold_q15, d.min_count)]
    for key in ("hits", "wrong_label", "missed", "false_detections", "median_latency_ms"):
        assert default[key] == measured[key], key
    assert all(r["hits"] + r["wrong_label"] + r["missed"] == 6 for r in rows)
    assert len({(r["hits"], r["false_detections"], r["median_latency_ms"]) for r in rows}) > 1, "the settings change nothing"


def test_sweep_refuses_a_run_the_host_detector_does_not_reproduce(monkeypatch):
    from host.evaluate import BoardResult, EvalRun
    from model.errors import BitearError

    keyword = tuple([0, 0, 32768] + [0] * 9)                           # "yes" at full score
    run = EvalRun(results=[BoardResult(hop, 2, 0, 0, keyword) for hop in range(0, 80, 4)],
                  detections=[(60, 3, 32768)])                          # the "firmware" claims a "no"
    monkeypatch.setattr(sq, "run_stream", lambda *args, **kwargs: run)
    stream = sq.Stream(np.zeros(320 * 80, np.int16), [(500, "yes")], 0, "test")
    with pytest.raises(BitearError, match="disagrees"):
        sq.sweep(stream, infer_every=4)
    run.detections = sq.replay_detector(run, DetectorParams())          # what the C detector would say
    assert run.detections and run.detections[0][1] == 2
    assert sq.sweep(stream, infer_every=4)[0]["keywords"] == 1
