"""host/demo.py: the summary (host.stream_scoring.summarize) on synthetic event streams (hits, wrong labels,
misses, late and double detections, false detections), the layout of the demo recording (onsets, noise
level), and its cache."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from host import demo
from host.stream_scoring import summarize
from model.audio import read_wav

TRUTH = [(1000 + 2200 * i, w) for i, w in enumerate(demo.KEYWORDS)]


def test_all_keywords_heard():
    dets = [(t + 700, w, 0.9) for t, w in TRUTH]
    s = summarize(TRUTH, dets)
    assert (s.detected, s.wrong, s.missed, len(s.false_detections)) == (10, 0, 0, 0)
    assert all(r.latency_ms == 700 for r in s.rows)
    assert "detected 10 of 10 keywords (0 wrong, 0 missed); false detections: 0 (none)" in demo.format_summary(s)


def test_miss_wrong_late_double_and_false():
    dets = [
        (500, "go", 0.8),              # before any word: false
        (1000 + 600, "yes", 0.9),      # yes: hit
        (1000 + 900, "yes", 0.8),      # yes again: double -> false
        (3200 + 800, "up", 0.7),       # "no" heard as up: wrong
        # "up" (5400): nothing -> missed
        (7600 + 2500, "down", 0.9),    # too late for "down" (missed) and inside "left"'s window: wrong for left
    ]
    dets += [(t + 500, w, 0.9) for t, w in TRUTH[5:]]
    s = summarize(TRUTH, dets)
    by_word = {r.keyword: r for r in s.rows}
    assert by_word["yes"].detected and by_word["yes"].latency_ms == 600
    assert by_word["no"].heard == "up" and not by_word["no"].detected
    assert by_word["up"].heard is None and by_word["down"].heard is None
    assert by_word["left"].heard == "down"
    assert (s.detected, s.wrong, s.missed) == (6, 2, 2)
    assert [(t, w) for t, w, _ in s.false_detections] == [(500, "go"), (1900, "yes")]
    text = demo.format_summary(s)
    assert "(missed)" in text and "WRONG" in text and "go at 0.50 s" in text


def test_right_label_is_preferred_inside_the_window():
    s = summarize([(1000, "on")], [(1300, "off", 0.6), (1500, "on", 0.8)])
    assert s.rows[0].detected and s.rows[0].time_ms == 1500
    assert s.false_detections == [(1300, "off", 0.6)]


def test_place_words_onsets_and_noise_level():
    words = [np.full(4000, 8000, np.int16), np.full(2000, -8000, np.int16)]
    audio, onsets = demo.place_words(words, spacing_s=2.0, snr_db=20.0, seed=3)
    assert onsets == [16000, 48000]
    assert len(audio) == 48000 + 2000 + 16000
    noise = audio[:15000].astype(np.float64)
    speech_power = 16000.0 ** 2
    assert 10 * np.log10(speech_power / np.mean(noise ** 2)) == pytest.approx(20.0, abs=1.0)
    assert np.abs(audio[16000:20000]).min() > 10000          # the word sits at its onset


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_recording_is_generated_once_then_cached(tmp_path, monkeypatch):
    rec = demo.make_recording(folder=tmp_path, spacing_s=1.8)
    audio, rate = read_wav(rec.path)
    assert rate == 16000 and rec.duration_s == pytest.approx(len(audio) / 16000)
    assert [w for _, w in rec.truth] == list(demo.KEYWORDS)
    assert [t for t, _ in rec.truth] == [1000 + 1800 * i for i in range(10)]
    for t, _ in rec.truth:                                    # speech right after each onset, louder than the noise
        word = audio[t * 16 : t * 16 + 8000].astype(np.float64)
        gap = audio[t * 16 - 4000 : t * 16 - 800].astype(np.float64)
        assert np.sqrt(np.mean(word ** 2)) > 3 * np.sqrt(np.mean(gap ** 2))
    assert json.loads(rec.path.with_suffix(".json").read_text())["truth"] == [list(x) for x in rec.truth]

    import model.synth
    monkeypatch.setattr(model.synth, "synthesize", lambda *a, **k: pytest.fail("cached recording synthesized again"))
    again = demo.make_recording(folder=tmp_path, spacing_s=1.8)
    assert again.path == rec.path and again.truth == rec.truth
