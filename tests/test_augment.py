"""Tests of model/augment.py: each augmentation does what it claims and is deterministic per seed."""
from __future__ import annotations

import numpy as np
import pytest

from model.augment import (
    add_noise,
    apply_gain,
    change_speed,
    mix_at_snr,
    power,
    random_gain,
    shift,
    speed_perturb,
    time_shift,
    vtlp_warp,
    warp_frequencies,
)


def tone(freq: float, amp: float = 6000.0, n: int = 16000) -> np.ndarray:
    return np.round(amp * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype(np.int16)


def noise(seed: int, std: float = 2000.0) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(0, std, 16000)).astype(np.int16)


def measured_snr(clean: np.ndarray, mixed: np.ndarray) -> float:
    return 10 * np.log10(power(clean) / power(mixed.astype(np.float64) - clean.astype(np.float64)))


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 30.0])
def test_mix_at_snr_measures_as_requested(snr: float) -> None:
    x = tone(700)
    mixed = mix_at_snr(x, noise(1), snr)
    assert mixed.dtype == np.int16
    assert abs(measured_snr(x, mixed) - snr) < 0.1  # int16 rounding only
    xf = x.astype(np.float32) / 32768
    mixed_f = mix_at_snr(xf, noise(1).astype(np.float32) / 32768, snr)
    assert mixed_f.dtype == np.float32 and abs(measured_snr(xf, mixed_f) - snr) < 0.01


def test_mix_with_silence_is_unchanged() -> None:
    x = tone(700)
    assert np.array_equal(mix_at_snr(x, np.zeros_like(x), 5.0), x)
    assert np.array_equal(mix_at_snr(np.zeros_like(x), noise(2), 5.0), np.zeros_like(x))


def test_add_noise_deterministic_and_in_range() -> None:
    x, n = tone(300), noise(3)
    a, snr_a = add_noise(np.random.default_rng(7), x, n, (5.0, 15.0))
    b, snr_b = add_noise(np.random.default_rng(7), x, n, (5.0, 15.0))
    c, snr_c = add_noise(np.random.default_rng(8), x, n, (5.0, 15.0))
    assert np.array_equal(a, b) and snr_a == snr_b and snr_a != snr_c
    assert 5.0 <= snr_a <= 15.0 and abs(measured_snr(x, a) - snr_a) < 0.1


def test_shift_moves_content_and_zero_fills() -> None:
    x = np.arange(1, 11, dtype=np.int16)
    assert shift(x, 3).tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]
    assert shift(x, -3).tolist() == [4, 5, 6, 7, 8, 9, 10, 0, 0, 0]
    assert not shift(x, 20).any()
    y = tone(440)
    a = time_shift(np.random.default_rng(1), y, 1600)
    assert np.array_equal(a, time_shift(np.random.default_rng(1), y, 1600))
    lag = [k for k in range(-1600, 1601) if np.array_equal(shift(y, k), a)]
    assert len(lag) >= 1  # the result is some shift within the range


def test_gain() -> None:
    x = tone(440, amp=1000)
    assert abs(np.abs(apply_gain(x, 20 * np.log10(2))).max() - 2000) <= 1
    loud = apply_gain(x, 40.0)  # 100x: clipped, never wrapped
    assert loud.dtype == np.int16 and loud.max() == 32767 and loud.min() == -32768
    assert np.array_equal(random_gain(np.random.default_rng(4), x), random_gain(np.random.default_rng(4), x))


@pytest.mark.parametrize("factor", [0.9, 1.1, 1.25])
def test_change_speed_scales_frequency_and_keeps_length(factor: float) -> None:
    x = tone(1000)
    y = change_speed(x, factor)
    assert y.shape == x.shape and y.dtype == np.int16
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64)))
    assert abs(np.argmax(spectrum) - 1000 * factor) <= 2
    burst = np.zeros(16000, np.int16)
    burst[6000:10000] = tone(500, n=4000)
    sped = change_speed(burst, factor)
    active = np.flatnonzero(np.abs(sped) > 1000)
    assert abs((active[-1] - active[0]) - 4000 / factor) < 40  # duration divided by factor


def test_speed_perturb_deterministic() -> None:
    x = tone(440)
    a = speed_perturb(np.random.default_rng(5), x)
    assert np.array_equal(a, speed_perturb(np.random.default_rng(5), x))
    assert not np.array_equal(a, speed_perturb(np.random.default_rng(6), x))


@pytest.mark.parametrize("alpha", [0.85, 0.9, 1.1, 1.15])
def test_vtlp_moves_a_tone_by_alpha_and_keeps_the_duration(alpha: float) -> None:
    y = warp_frequencies(tone(1000.0), alpha)
    assert y.dtype == np.int16 and y.shape == (16000,)
    peak_hz = np.argmax(np.abs(np.fft.rfft(y.astype(np.float64))))  # 1 Hz bins over 1 s
    assert abs(peak_hz - 1000.0 * alpha) <= 2
    assert power(y) == pytest.approx(power(tone(1000.0)), rel=0.01)


def test_vtlp_identity_and_warp_shape() -> None:
    x = noise(3)
    assert np.abs(warp_frequencies(x, 1.0).astype(np.int32) - x).max() <= 1  # alpha 1: the clip back
    f = np.linspace(0, 8000, 9)
    for alpha in (0.85, 1.15):
        w = vtlp_warp(f, alpha, 16000)
        assert w[0] == 0 and w[-1] == 8000 and np.all(np.diff(w) > 0)  # Nyquist stays, monotonic
        assert w[2] == pytest.approx(2000 * alpha)  # linear below the knee


def test_vtlp_refuses_a_factor_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="warp factor must be positive, not 0"):
        warp_frequencies(noise(3), 0.0)
