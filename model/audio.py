"""Reading, writing and normalising WAV audio: everything inside bitear is 16 kHz mono int16.

- `read_wav(path)` reads any PCM 16-bit WAV as it is and *reports* its rate and channel count
  (the array is 1-D for mono, (frames, channels) otherwise). It raises `BitearError` naming the
  file when the file is not a WAV, is corrupt or has a truncated header, holds 0 samples, or uses
  a sample width other than 16 bits.
- `load_clip(path)` returns 16 kHz mono int16. With `convert=False` a wrong rate or channel
  count is an error ("file X: expected 16000 Hz mono, found 8000 Hz 2 channels"); with
  `convert=True` channels are averaged and the rate is changed with soxr.
- `fit_to_one_second(x)` pads with zeros or cuts to exactly 16000 samples. `align="left"` keeps
  the start (what the Speech Commands recipe does: zero padding at the end); `align="center"`
  centres short clips and, when cutting, keeps the loudest 1 s window (for trimmed speech such as
  FSDD or TTS, where the word must not be cut off at one side).
- `write_wav(path, x, rate)` writes int16 PCM (1-D mono or (frames, channels)).

A data chunk shorter than its header declares (a recording cut off while written) is accepted
with the samples that are there; only an unreadable header is an error.
"""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

from model.errors import BitearError
from model.facts import CLIP_SAMPLES, SAMPLE_RATE


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a PCM 16-bit WAV file: (int16 samples, sample rate); 1-D if mono, else (frames, channels)."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, n_frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            if width != 2:
                raise BitearError(f"file {path}: unsupported sample width {8 * width} bits (bitear reads 16-bit PCM WAV only)")
            raw = w.readframes(n_frames)
    except BitearError:
        raise
    except FileNotFoundError:
        raise BitearError(f"file {path}: not found") from None
    except IsADirectoryError:
        raise BitearError(f"file {path}: is a folder, not a WAV file") from None
    except (wave.Error, EOFError, ValueError, OSError, RuntimeError) as e:  # RuntimeError: a chunk runs past the end
        raise BitearError(f"file {path}: not a readable PCM WAV file (corrupt or truncated header?): {e}") from None
    if rate <= 0 or channels <= 0:
        raise BitearError(f"file {path}: corrupt header ({rate} Hz, {channels} channels)")
    frame_bytes = 2 * channels
    samples = np.frombuffer(raw[: len(raw) - len(raw) % frame_bytes], dtype="<i2").astype(np.int16)
    if samples.size == 0:
        raise BitearError(f"file {path}: empty (0 samples)")
    if channels > 1:
        samples = samples.reshape(-1, channels)
    return samples, rate


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) int16 array (1-D input is returned unchanged)."""
    if x.ndim == 1:
        return x
    return np.round(x.astype(np.float32).mean(axis=1)).astype(np.int16)


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Change the sample rate of mono int16 audio with soxr (high quality), clipping to int16."""
    if rate_in == rate_out:
        return x
    y = soxr.resample(x.astype(np.float32), rate_in, rate_out, quality="HQ")
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def load_clip(path: str | Path, expect_rate: int = SAMPLE_RATE, convert: bool = False) -> np.ndarray:
    """Read a WAV as mono int16 at `expect_rate`; mismatches are an error unless `convert` (mix down + soxr)."""
    x, rate = read_wav(path)
    channels = 1 if x.ndim == 1 else x.shape[1]
    if rate == expect_rate and channels == 1:
        return x
    if not convert:
        found = "mono" if channels == 1 else f"{channels} channels"
        raise BitearError(f"file {path}: expected {expect_rate} Hz mono, found {rate} Hz {found}")
    return resample(to_mono(x), rate, expect_rate)


def fit_to_one_second(x: np.ndarray, length: int = CLIP_SAMPLES, align: str = "left") -> np.ndarray:
    """Pad with zeros or cut to `length` samples.

    align="left": keep the start, pad/cut at the end (the Speech Commands recipe).
    align="center": pad equally on both sides; when cutting, keep the loudest window of `length`.
    """
    if align not in ("left", "center"):
        raise ValueError(f"align must be 'left' or 'center', not {align!r}")
    n = len(x)
    if n == length:
        return x
    if n > length:
        if align == "left":
            return x[:length]
        energy = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
        window = energy[length:] - energy[:-length]
        start = int(np.argmax(window))
        return x[start : start + length]
    out = np.zeros(length, dtype=x.dtype)
    start = 0 if align == "left" else (length - n) // 2
    out[start : start + n] = x
    return out


def write_wav(path: str | Path, x: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write int16 PCM: 1-D = mono, (frames, channels) = interleaved channels."""
    x = np.asarray(x)
    if x.dtype != np.int16:
        raise ValueError(f"write_wav wants int16 samples, got {x.dtype}")
    channels = 1 if x.ndim == 1 else x.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.astype("<i2").tobytes())
