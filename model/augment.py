"""Data augmentation in numpy: noise at a chosen SNR, time shift, gain, speed perturbation.

Every random function takes an explicit `np.random.Generator` as first argument, so a seed fixes the
result. Waveform functions accept int16 or float audio and return the same dtype (int16 results are
rounded and clipped to the int16 range). The deterministic building blocks (`mix_at_snr`,
`shift`, `apply_gain`, `change_speed`) are separate from their random wrappers so tests can check
that each one does what it claims.

Speed perturbation is resample-based (soxr), Kaldi style: playing the clip `factor` times faster
raises its pitch by the same factor; speed and pitch change together.

Vocal-tract-length perturbation (VTLP, Jaitly & Hinton 2013) warps the frequency axis of the
short-time spectrum by `alpha` (piecewise linear: f -> alpha*f up to a boundary, then a straight line
to the Nyquist frequency), duration unchanged: magnitudes are interpolated at the source frequencies,
phases re-accumulated from the warped instantaneous frequencies (a phase vocoder), so alpha = 1
gives the clip back; the result keeps the clip's power.
"""
from __future__ import annotations

import numpy as np
import soxr

from model.audio import fit_to_one_second
from model.facts import SAMPLE_RATE


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


def vtlp_warp(freqs: np.ndarray, alpha: float, rate: int, boundary_hz: float = 4800.0) -> np.ndarray:
    """Jaitly & Hinton's piecewise-linear warp: f -> alpha*f below boundary*min(alpha,1)/alpha, then linear to Nyquist."""
    nyquist = rate / 2
    knee = boundary_hz * min(alpha, 1.0) / alpha
    upper = nyquist - (nyquist - alpha * knee) / (nyquist - knee) * (nyquist - freqs)
    return np.where(freqs <= knee, alpha * freqs, upper)


def warp_frequencies(x: np.ndarray, alpha: float, rate: int = SAMPLE_RATE, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """VTLP of one clip by `alpha` (module docstring); same length and dtype."""
    if alpha <= 0:
        raise ValueError(f"warp factor must be positive, not {alpha}")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    padded = np.pad(_as_float(x), n_fft)
    starts = hop * np.arange(1 + (len(padded) - n_fft) // hop)
    spectrum = np.fft.rfft(padded[starts[:, None] + np.arange(n_fft)] * window, axis=1)  # (frames, bins)
    bins = np.arange(spectrum.shape[1], dtype=np.float64)
    bin_hz = rate / n_fft
    source = np.interp(bins, vtlp_warp(bins * bin_hz, alpha, rate) / bin_hz, bins)  # output bin -> source position
    lo = np.minimum(source.astype(int), len(bins) - 2)
    frac = source - lo
    magnitude = np.abs(spectrum)
    magnitude = magnitude[:, lo] * (1 - frac) + magnitude[:, lo + 1] * frac
    # Instantaneous frequency (in bins) between frames, read at the source positions and warped.
    step = np.angle(spectrum[1:]) - np.angle(spectrum[:-1]) - 2 * np.pi * bins * hop / n_fft
    inst = bins + ((step + np.pi) % (2 * np.pi) - np.pi) * n_fft / (2 * np.pi * hop)
    inst = vtlp_warp((inst[:, lo] * (1 - frac) + inst[:, lo + 1] * frac) * bin_hz, alpha, rate) / bin_hz
    phase = np.angle(spectrum[:1, np.round(source).astype(int)]) + np.concatenate(
        [np.zeros((1, len(bins))), np.cumsum(2 * np.pi * inst * hop / n_fft, axis=0)])
    frames = np.fft.irfft(magnitude * np.exp(1j * phase), n_fft, axis=1) * window
    out, norm = np.zeros(len(padded)), np.zeros(len(padded))
    for start, frame in zip(starts, frames):
        out[start:start + n_fft] += frame
        norm[start:start + n_fft] += window ** 2
    y = (out / np.maximum(norm, 1e-8))[n_fft:n_fft + len(x)]
    # The re-accumulated phases of neighbouring bins partly cancel in the overlap-add (up to ~5 dB on
    # speech): give the clip its power back, so the gain augmentation alone decides the level.
    return _like(y * np.sqrt(power(x) / max(power(y), 1e-12)), x)


def random_vtlp(rng: np.random.Generator, x: np.ndarray, alpha_range: tuple[float, float] = (0.85, 1.15)) -> np.ndarray:
    """VTLP by a factor drawn uniformly from `alpha_range`."""
    return warp_frequencies(x, float(rng.uniform(*alpha_range)))
