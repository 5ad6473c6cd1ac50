"""Tests of model/synth.py: espeak-ng, flite and festival speech in the project's format, voices, caching, clear errors."""
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
needs_festival = pytest.mark.skipif(shutil.which("festival") is None, reason="festival not installed")


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
        pytest.param("festival", "ked_diphone", marks=needs_festival),
        pytest.param("festival", "cmu_us_slt_arctic_hts", marks=needs_festival),  # 32 kHz, resampled
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


def mean_f0(x: np.ndarray, rate: int = 16000) -> float:
    """Median autocorrelation pitch (60-400 Hz) of the 40 ms frames louder than a tenth of the clip's RMS."""
    x = x.astype(np.float64)
    frame, f0s = int(0.04 * rate), []
    for start in range(0, len(x) - frame, frame // 2):
        seg = x[start:start + frame]
        if np.sqrt(np.mean(seg ** 2)) < 0.1 * np.sqrt(np.mean(x ** 2)):
            continue
        ac = np.correlate(seg, seg, "full")[frame - 1:]
        lag = rate // 400 + int(np.argmax(ac[rate // 400: rate // 60]))
        if ac[lag] > 0.3 * ac[0]:
            f0s.append(rate / lag)
    return float(np.median(f0s))


@pytest.mark.parametrize(
    "engine,voice,min_ratio",
    [
        pytest.param("espeak-ng", "en-us", 1.4, marks=needs_espeak),
        pytest.param("flite", "slt", 1.4, marks=needs_flite),
        pytest.param("festival", "kal_diphone", 1.4, marks=needs_festival),
        pytest.param("festival", "cmu_us_slt_arctic_hts", 1.2, marks=needs_festival),  # hts_engine's rate stretches less
    ],
)
def test_speed_and_pitch_change_the_audio(engine: str, voice: str, min_ratio: float) -> None:
    slow = synthesize("seven", voice, 0.7, 1.0, engine)
    fast = synthesize("seven", voice, 1.4, 1.0, engine)
    slow_len = np.diff(active_span(slow))[0]
    fast_len = np.diff(active_span(fast))[0]
    assert slow_len > min_ratio * fast_len
    if voice != "cmu_us_slt_arctic_hts":  # festival's HTS voice has no pitch control (module docstring)
        assert mean_f0(synthesize("seven", voice, 1.0, 1.4, engine)) > 1.3 * mean_f0(synthesize("seven", voice, 1.0, 0.7, engine))


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
        synthesize("yes", "en-us", engine="say")
    with pytest.raises(BitearError, match="empty or starts with"):
        synthesize("--help", "en-us")


@needs_festival
def test_festival_voices_and_unknown_voice() -> None:
    assert available_voices("festival") == synth.english_voices("festival") == list(synth.FESTIVAL_VOICES)
    # festival would fail with a scheme error (unbound variable voice_nope) and write no file; we name the voices.
    with pytest.raises(BitearError, match="festival has no voice 'nope': use one of kal_diphone ked_diphone cmu_us_slt_arctic_hts"):
        synthesize("yes", "nope", engine="festival")


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
@needs_festival
def test_synthesize_words_labels_caching_and_determinism(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BITEAR_CACHE", str(tmp_path))
    words = ["yes", "go", "marvin"]
    clips = synthesize_words(words, 4, seed=3, progress=False)
    assert len(clips) == 12 and clips.audio.shape == (12, 16000) and set(clips.sources) == {"tts"}
    assert clips.words == ["yes"] * 4 + ["go"] * 4 + ["marvin"] * 4
    assert clips.labels.tolist() == [2] * 4 + [11] * 4 + [1] * 4
    assert all(s.split(":")[0] in synth.ENGINES for s in clips.speakers)
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
@needs_festival
def test_variants_depend_on_seed_and_word_only() -> None:
    a = draw_variants(["yes", "no"], 5, seed=1)
    assert a == draw_variants(["yes", "no"], 5, seed=1)
    assert a[5:] == draw_variants(["no"], 5, seed=1)  # a word's variants do not depend on the other words
    assert a != draw_variants(["yes", "no"], 5, seed=2)
    many = draw_variants(["yes"], 200, seed=0)
    assert {v.engine for v in many} == {"espeak-ng", "flite", "festival"}
    assert {v.engine for v in draw_variants(["yes"], 200, seed=0, engines=synth.RECIPE_ENGINES)} == {"espeak-ng", "flite"}
    assert len({v.voice for v in many}) > 50
    assert all(0.75 <= v.speed <= 1.3 and 0.7 <= v.pitch <= 1.4 for v in many)
    english = draw_variants(["yes"], 50, seed=0, voices={"espeak-ng": synth.english_voices("espeak-ng"), "flite": ["slt"]})
    assert all(v.voice.startswith("en") for v in english if v.engine == "espeak-ng")
    assert {v.voice for v in english if v.engine == "flite"} == {"slt"}
