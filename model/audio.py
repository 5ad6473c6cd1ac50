"""Reading, writing and normalising audio: everything inside bitear is 16 kHz mono int16.

Files are read with libsndfile (the `soundfile` package): WAV with PCM 8/16/24/32-bit or 32/64-bit
float samples, plain or WAVE_FORMAT_EXTENSIBLE (what sox and many recorders write), and the other
formats libsndfile knows (FLAC, OGG, AIFF, MP3, ...). Float samples are full scale at 1.0 and
become int16 by x * 32768, rounded and clipped; integer samples keep their top 16 bits, rounded.

- `audio_info(path)` checks a file without reading its samples: (rate, channels, frames, format).
  It raises `BitearError` naming the file when it is missing, a folder, not audio, corrupt,
  holds 0 samples, or has a rate outside MIN_RATE .. MAX_RATE (4 kHz .. 768 kHz; 1 Hz or 0 in a
  header is damage, not audio).
- `stream_16k(path)` yields the file as 16 kHz mono int16 blocks, read and resampled
  (soxr.ResampleStream) piece by piece: memory stays bounded whatever the length.
- `read_wav(path)` reads a whole file as it is and *reports* its rate and channel count (the
  int16 array is 1-D for mono, (frames, channels) otherwise): for clips.
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

import dataclasses
import wave
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile
import soxr

from model.errors import BitearError
from model.facts import CLIP_SAMPLES, SAMPLE_RATE
MIN_RATE = 4000          # below this a header's rate is damage (a 1 Hz file would upsample 16000x)
MAX_RATE = 768000        # the highest rate audio interfaces record at
BLOCK_SAMPLES = 1 << 18  # samples (all channels) read at a time by stream_16k: 1 MB of float32


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    rate: int
    channels: int
    frames: int
    format: str          # e.g. "WAV PCM_16", "WAVEX FLOAT"


def _open(path: Path) -> soundfile.SoundFile:
    """The file opened by libsndfile; BitearError naming it when that fails."""
    if not path.exists():
        raise BitearError(f"file {path}: not found")
    if path.is_dir():
        raise BitearError(f"file {path}: is a folder, not a WAV file")
    try:
        return soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        reason = str(e).replace(f"Error opening {str(path)!r}: ", "")
        raise BitearError(f"file {path}: not a readable WAV file (corrupt or truncated header?): {reason}") from None


def _check(path: Path, f: soundfile.SoundFile) -> AudioInfo:
    info = AudioInfo(int(f.samplerate), int(f.channels), int(f.frames), f"{f.format} {f.subtype}")
    if not MIN_RATE <= info.rate <= MAX_RATE:
        raise BitearError(f"file {path}: sample rate {info.rate} Hz in its header is outside "
                          f"{MIN_RATE} .. {MAX_RATE} Hz (a damaged header?)")
    if info.channels < 1:
        raise BitearError(f"file {path}: corrupt header ({info.channels} channels)")
    if info.frames <= 0:
        raise BitearError(f"file {path}: empty (0 samples)")
    return info


def audio_info(path: str | Path) -> AudioInfo:
    """Rate, channels, frames and format of an audio file, checked (see the module docstring)."""
    path = Path(path)
    with _open(path) as f:
        return _check(path, f)


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float audio (full scale 1.0) as int16: x * 32768, rounded, clipped."""
    return np.clip(np.round(np.asarray(x, np.float32) * 32768.0), -32768, 32767).astype(np.int16)


def _blocks(path: Path, f: soundfile.SoundFile, frames: int) -> Iterator[np.ndarray]:
    """(frames, channels) float32 blocks; damage met while reading is a BitearError naming the file."""
    while True:
        try:
            block = f.read(frames, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as e:
            raise BitearError(f"file {path}: reading failed after {f.tell()} frames: {e}") from None
        if len(block) == 0:
            return
        yield block


def stream_16k(path: str | Path) -> Iterator[np.ndarray]:
    """The file as 16 kHz mono int16 blocks (channels averaged), read and resampled piece by piece
    (at most BLOCK_SAMPLES source samples at a time). Checks the file first (audio_info's errors)."""
    path = Path(path)
    f = _open(path)
    with f:
        info = _check(path, f)
        resampler = None
        if info.rate != SAMPLE_RATE:
            resampler = soxr.ResampleStream(info.rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        for block in _blocks(path, f, max(1, BLOCK_SAMPLES // info.channels)):
            mono = block.mean(axis=1, dtype=np.float32) if info.channels > 1 else block[:, 0]
            if resampler is not None:
                mono = resampler.resample_chunk(mono)
            if len(mono):
                yield to_int16(mono)
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if len(tail):
                yield to_int16(tail)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a whole audio file: (int16 samples, sample rate); 1-D if mono, else (frames, channels)."""
    path = Path(path)
    f = _open(path)
    with f:
        info = _check(path, f)
        samples = to_int16(np.concatenate(list(_blocks(path, f, max(1, info.frames)))))
    if len(samples) == 0:
        raise BitearError(f"file {path}: empty (0 samples)")
    return (samples[:, 0].copy() if info.channels == 1 else samples), info.rate


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
