"""Data augmentation in numpy: noise at a chosen SNR, time shift, gain, speed perturbation.

Every random function takes an explicit `np.random.Generator` as first argument, so a seed fixes the
result. Waveform functions accept int16 or float audio and return the same dtype (int16 results are
rounded and clipped to the int16 range). The deterministic building blocks (`mix_at_snr`,
`shift`, `apply_gain`, `change_speed`) are separate from their random wrappers so tests can check
that each one does what it claims.

Speed perturbation is resample-based (soxr), Kaldi style: playing the clip `factor` times faster
raises its pitch by the same factor; speed and pitch change together.
"""
from __future__ import annotations

import numpy as np
import soxr

from model.audio import fit_to_one_second


def _as_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64)


def _like(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cast float result `y` back to the dtype of input `x` (int16: round and clip)."""
    if x.dtype == np.int16:
        return np.clip(np.round(y), -32768, 32767).astype(np.int16)
    return y.astype(x.dtype)


def power(x: np.ndarray) -> float:
    """Mean square of a signal."""
    return float(np.mean(_as_float(x) ** 2))


def mix_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """x + noise scaled so that 10*log10(power(x)/power(scaled noise)) == snr_db (silent x or noise: x unchanged)."""
    if noise.shape != x.shape:
        raise ValueError(f"noise shape {noise.shape} differs from signal shape {x.shape}")
    px, pn = power(x), power(noise)
    if px == 0.0 or pn == 0.0:
        return x.copy()
    scale = np.sqrt(px / (pn * 10.0 ** (snr_db / 10.0)))
    return _like(_as_float(x) + scale * _as_float(noise), x)


def add_noise(
    rng: np.random.Generator, x: np.ndarray, noise: np.ndarray, snr_db: tuple[float, float] = (0.0, 20.0)
) -> tuple[np.ndarray, float]:
    """Mix `noise` (same length as x) in at an SNR drawn uniformly from `snr_db`; returns (mixed, snr used)."""
    snr = float(rng.uniform(*snr_db))
    return mix_at_snr(x, noise, snr), snr


def shift(x: np.ndarray, samples: int) -> np.ndarray:
    """Move the clip `samples` later (negative: earlier), zero-filling; the length is unchanged."""
    out = np.zeros_like(x)
    n = len(x)
    if samples >= 0:
        out[samples:] = x[: max(n - samples, 0)]
    else:
        out[: n + samples] = x[-samples:]
    return out


def time_shift(rng: np.random.Generator, x: np.ndarray, max_shift: int = 1600) -> np.ndarray:
    """Shift by a uniform random number of samples in [-max_shift, max_shift] (default 100 ms)."""
    return shift(x, int(rng.integers(-max_shift, max_shift + 1)))


def apply_gain(x: np.ndarray, gain_db: float) -> np.ndarray:
    """Multiply by 10**(gain_db/20) (int16 clips at full scale)."""
    return _like(_as_float(x) * 10.0 ** (gain_db / 20.0), x)


def random_gain(rng: np.random.Generator, x: np.ndarray, gain_db: tuple[float, float] = (-10.0, 6.0)) -> np.ndarray:
    """Gain drawn uniformly in dB from `gain_db`."""
    return apply_gain(x, float(rng.uniform(*gain_db)))


def change_speed(x: np.ndarray, factor: float, align: str = "center") -> np.ndarray:
    """Play `factor` times faster (pitch rises by `factor` too) by resampling; pad/cut back to len(x)."""
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, not {factor}")
    # Treat x as sampled at `factor`*R and resample it to R: duration / factor, frequencies * factor.
    n = len(x)
    y = soxr.resample(_as_float(x), 1000.0 * factor, 1000.0, quality="HQ")
    return _like(fit_to_one_second(y, length=n, align=align), x)


def speed_perturb(rng: np.random.Generator, x: np.ndarray, factor_range: tuple[float, float] = (0.85, 1.15)) -> np.ndarray:
    """Speed (and pitch) change by a factor drawn uniformly from `factor_range`."""
    return change_speed(x, float(rng.uniform(*factor_range)))
