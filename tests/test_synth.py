"""Tests of model/synth.py: espeak-ng and flite speech in the project's format, voices, caching, clear errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from model import synth
from model.errors import BitearError
from model.synth import available_voices, draw_variants, synthesize, synthesize_words, trim_silence

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")


def active_span(x: np.ndarray, threshold: float = 300.0) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(x) > threshold)
    return int(loud[0]), int(loud[-1])


@pytest.mark.parametrize(
    "engine,voice",
    [
        pytest.param("espeak-ng", "en-us", marks=needs_espeak),
        pytest.param("espeak-ng", "en-gb+f3", marks=needs_espeak),
        pytest.param("espeak-ng", "de+m7", marks=needs_espeak),
        pytest.param("flite", "slt", marks=needs_flite),
        pytest.param("flite", "kal", marks=needs_flite),  # an 8 kHz voice, resampled
    ],
)
def test_synthesize_gives_speech_in_project_format(engine: str, voice: str) -> None:
    x = synthesize("seven", voice, 1.0, 1.0, engine)
    assert x.dtype == np.int16 and x.shape == (16000,)
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    assert 300 < rms < 10000 and np.abs(x).max() > 5000  # clearly non-silent, not clipped to a square
    start, end = active_span(x)
    assert 200 < start and end < 15800  # trimmed and placed inside the second, not touching its edges
    assert abs((start + end) / 2 - 8000) < 1500  # roughly centred
    # Speech spreads energy over the speech band (a pure tone scores ~0 here).
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(16000, 1 / 16000)
    band = spectrum[(freqs > 100) & (freqs < 4000)]
    assert (band > band.max() * 1e-3).mean() > 0.05


@needs_espeak
@needs_flite
@pytest.mark.parametrize("engine,voice", [("espeak-ng", "en-us"), ("flite", "slt")])
def test_speed_and_pitch_change_the_audio(engine: str, voice: str) -> None:
    slow = synthesize("seven", voice, 0.7, 1.0, engine)
    fast = synthesize("seven", voice, 1.4, 1.0, engine)
    slow_len = np.diff(active_span(slow))[0]
    fast_len = np.diff(active_span(fast))[0]
    assert slow_len > 1.4 * fast_len
    assert not np.array_equal(synthesize("seven", voice, 1.0, 0.7, engine), synthesize("seven", voice, 1.0, 1.4, engine))


@needs_espeak
@needs_flite
def test_voice_lists_and_unknown_voices() -> None:
    espeak = available_voices("espeak-ng")
    assert "en-us" in espeak and "en-gb+f3" in espeak and "en-us+m7" in espeak and len(espeak) > 100
    assert set(available_voices("flite")) >= {"kal", "slt"} and "awb_time" not in available_voices("flite")
    # Both engines silently fall back to a default voice; we refuse instead.
    with pytest.raises(BitearError, match="no voice 'en-us\\+nonsense'"):
        synthesize("yes", "en-us+nonsense")
    with pytest.raises(BitearError, match="no voice 'xx-yy'"):
        synthesize("yes", "xx-yy")
    with pytest.raises(BitearError, match="flite has no voice 'nope'"):
        synthesize("yes", "nope", engine="flite")
    with pytest.raises(BitearError, match="unknown speech engine"):
        synthesize("yes", "en-us", engine="festival")
    with pytest.raises(BitearError, match="empty or starts with"):
        synthesize("--help", "en-us")


def test_missing_engine_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(BitearError, match=r"espeak-ng is not installed: install the Debian package 'espeak-ng'"):
        synthesize("yes", "en-us", engine="espeak-ng")
    with pytest.raises(BitearError, match=r"flite is not installed: install the Debian package 'flite'"):
        synthesize_words(["yes"], 1, engines=["flite"], progress=False)


def test_trim_silence() -> None:
    x = np.zeros(16000, np.int16)
    x[5000:7000] = 8000
    x[4000] = 10  # far below the loudest frame: trimmed away
    y = trim_silence(x)
    assert 2000 + 2 * 320 <= len(y) <= 2000 + 2 * 320 + 2 * 160 and y.max() == 8000  # 20 ms margins, 10 ms frames
    assert y[0] == 0 and y[-1] == 0
    assert trim_silence(np.zeros(1000, np.int16)).size == 0


@needs_espeak
@needs_flite
def test_synthesize_words_labels_caching_and_determinism(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BITEAR_CACHE", str(tmp_path))
    words = ["yes", "go", "marvin"]
    clips = synthesize_words(words, 4, seed=3, progress=False)
    assert len(clips) == 12 and clips.audio.shape == (12, 16000) and set(clips.sources) == {"tts"}
    assert clips.words == ["yes"] * 4 + ["go"] * 4 + ["marvin"] * 4
    assert clips.labels.tolist() == [2] * 4 + [11] * 4 + [1] * 4
    assert all(s.split(":")[0] in ("espeak-ng", "flite") for s in clips.speakers)
    assert (np.sqrt(np.mean(clips.audio.astype(np.float64) ** 2, axis=1)) > 200).all()
    cached = sorted((tmp_path / "tts").glob("*.npy"))
    assert len(cached) == len({(v.word, v.engine, v.voice, v.speed, v.pitch) for v in draw_variants(words, 4, 3)})

    def fail(*args, **kwargs):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(synth, "synthesize", fail)
    again = synthesize_words(words, 4, seed=3, progress=False)
    assert np.array_equal(again.audio, clips.audio) and again.speakers == clips.speakers


@needs_espeak
@needs_flite
def test_variants_depend_on_seed_and_word_only() -> None:
    a = draw_variants(["yes", "no"], 5, seed=1)
    assert a == draw_variants(["yes", "no"], 5, seed=1)
    assert a[5:] == draw_variants(["no"], 5, seed=1)  # a word's variants do not depend on the other words
    assert a != draw_variants(["yes", "no"], 5, seed=2)
    many = draw_variants(["yes"], 200, seed=0)
    assert {v.engine for v in many} == {"espeak-ng", "flite"}
    assert len({v.voice for v in many}) > 50
    assert all(0.75 <= v.speed <= 1.3 and 0.7 <= v.pitch <= 1.4 for v in many)
    english = draw_variants(["yes"], 50, seed=0, voices={"espeak-ng": synth.english_voices("espeak-ng"), "flite": ["slt"]})
    assert all(v.voice.startswith("en") for v in english if v.engine == "espeak-ng")
    assert {v.voice for v in english if v.engine == "flite"} == {"slt"}
