"""The teacher's front end in numpy: TensorFlow's DecodeWav -> AudioSpectrogram -> Mfcc, bit-for-bit in spirit.

This is the *teacher's* MFCC (49 x 10 per 1 s clip), used only on the host to feed the DS-CNN-L
teacher. The student and the firmware use the project's own integer log-mel front end instead.

It follows TensorFlow's kernels (`spectrogram.cc`, `mfcc_mel_filterbank.cc`, `mfcc_dct.cc`):
- DecodeWav: int16 / 32768 as float32, cut or zero-padded to 16000 samples.
- AudioSpectrogram (magnitude_squared=true): periodic Hann window of 640 samples, stride 320,
  FFT size 1024 (next power of two), |X|^2 computed in double and *stored as float32*.
- Mfcc: sqrt of that float32 power (so a magnitude), TF's MfccMelFilterbank (40 channels,
  20-4000 Hz, each FFT bin split between two neighbouring channels), log with floor 1e-12,
  DCT-II to 10 coefficients scaled sqrt(2/40) (no extra scaling of k = 0), all in double,
  output float32.
"""
from __future__ import annotations

import numpy as np

from model.facts import CLIP_SAMPLES, HOP, SAMPLE_RATE

WINDOW = 640
STRIDE = HOP
FFT_SIZE = 1024
N_FRAMES = 1 + (CLIP_SAMPLES - WINDOW) // STRIDE  # 49
N_CHANNELS = 40
LOWER_HZ = 20.0
UPPER_HZ = 4000.0
N_COEFFS = 10
LOG_FLOOR = 1e-12


def _freq_to_mel(freq: np.ndarray | float) -> np.ndarray | float:
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


def mel_weights(n_bins: int = FFT_SIZE // 2 + 1, sample_rate: float = SAMPLE_RATE,
                n_channels: int = N_CHANNELS, lower_hz: float = LOWER_HZ,
                upper_hz: float = UPPER_HZ) -> np.ndarray:
    """TF MfccMelFilterbank as a dense (n_bins, n_channels) float64 matrix.

    TF walks the FFT bins start..end; bin i goes to channel band_mapper[i] with weight w[i]
    (right, falling side of that triangle) and to channel band_mapper[i] + 1 with 1 - w[i]
    (left, rising side of the next one). Bins outside [start, end] contribute nothing.
    """
    mel_low, mel_high = _freq_to_mel(lower_hz), _freq_to_mel(upper_hz)
    spacing = (mel_high - mel_low) / (n_channels + 1.0)
    # n_channels + 1 centres: the extra top one closes the last triangle
    centres = mel_low + spacing * np.arange(1, n_channels + 2, dtype=np.float64)
    hz_per_bin = 0.5 * sample_rate / (n_bins - 1)
    start = int(1.5 + lower_hz / hz_per_bin)
    end = int(upper_hz / hz_per_bin)

    weights = np.zeros((n_bins, n_channels), dtype=np.float64)
    channel = 0
    for i in range(start, end + 1):
        mel = float(_freq_to_mel(i * hz_per_bin))
        while channel < n_channels and centres[channel] < mel:
            channel += 1
        band = channel - 1  # may be -1: left of the first centre
        if band >= 0:
            w = (centres[band + 1] - mel) / (centres[band + 1] - centres[band])
            weights[i, band] += w
        else:
            w = (centres[0] - mel) / (centres[0] - mel_low)
        if band + 1 < n_channels:
            weights[i, band + 1] += 1.0 - w
    return weights


def dct_matrix(n_inputs: int = N_CHANNELS, n_coeffs: int = N_COEFFS) -> np.ndarray:
    """TF MfccDct as a (n_inputs, n_coeffs) float64 matrix: sqrt(2/n) * cos(pi/n * k * (j + 0.5))."""
    j = np.arange(n_inputs, dtype=np.float64)[:, None]
    k = np.arange(n_coeffs, dtype=np.float64)[None, :]
    return np.sqrt(2.0 / n_inputs) * np.cos(np.pi / n_inputs * k * (j + 0.5))


_HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW, dtype=np.float64) / WINDOW)  # periodic
_MEL = mel_weights()
_DCT = dct_matrix()


def fit_length(audio: np.ndarray, n_samples: int = CLIP_SAMPLES) -> np.ndarray:
    """Cut or zero-pad the last axis to n_samples, as DecodeWav(desired_samples) does."""
    have = audio.shape[-1]
    if have >= n_samples:
        return audio[..., :n_samples]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, n_samples - have)]
    return np.pad(audio, pad)


def power_spectrogram(samples: np.ndarray) -> np.ndarray:
    """AudioSpectrogram with magnitude_squared=true: (N, 16000) float -> (N, 49, 513) float32."""
    frames = np.lib.stride_tricks.sliding_window_view(samples, WINDOW, axis=-1)[:, ::STRIDE]
    spectrum = np.fft.rfft(frames.astype(np.float64) * _HANN, n=FFT_SIZE, axis=-1)
    return (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)


def mfcc_from_power(power: np.ndarray) -> np.ndarray:
    """Mfcc op on a float32 power spectrogram (..., 513) -> (..., 10) float32."""
    mel = np.sqrt(power.astype(np.float64)) @ _MEL
    return (np.log(np.maximum(mel, LOG_FLOOR)) @ _DCT).astype(np.float32)


def mfcc(audio: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Teacher features for a batch of int16 clips: (N, L) or (L,) int16 -> (N, 49, 10) float32.

    Clips are cut or zero-padded to 16000 samples first. Work is done in chunks of `chunk`
    clips to bound memory (the complex spectrum of one clip is ~0.4 MB).
    """
    audio = np.asarray(audio)
    if audio.dtype != np.int16:
        raise TypeError(f"mfcc expects int16 audio, got {audio.dtype}")
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2:
        raise ValueError(f"mfcc expects (N, samples) audio, got shape {audio.shape}")
    audio = fit_length(audio)
    out = np.empty((audio.shape[0], N_FRAMES, N_COEFFS), dtype=np.float32)
    for lo in range(0, audio.shape[0], chunk):
        samples = audio[lo:lo + chunk].astype(np.float32) / np.float32(32768.0)  # DecodeWav
        out[lo:lo + chunk] = mfcc_from_power(power_spectrogram(samples))
    return out
