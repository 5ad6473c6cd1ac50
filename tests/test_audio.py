"""Tests of model/audio.py: WAV reading/writing, clear errors for bad files, conversion, 1 s fitting."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from model.audio import fit_to_one_second, load_clip, read_wav, resample, write_wav
from model.errors import BitearError


def tone(freq: float, seconds: float = 1.0, rate: int = 16000, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_hz(x: np.ndarray, rate: int) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(x.astype(np.float64)))) * rate / len(x))


def test_write_read_roundtrip_mono_and_stereo(tmp_path: Path) -> None:
    x = tone(440)
    write_wav(tmp_path / "m.wav", x, 16000)
    y, rate = read_wav(tmp_path / "m.wav")
    assert rate == 16000 and y.dtype == np.int16 and np.array_equal(x, y)

    st = np.stack([x, -x], axis=1)
    write_wav(tmp_path / "s.wav", st, 8000)
    y, rate = read_wav(tmp_path / "s.wav")
    assert rate == 8000 and y.shape == (16000, 2) and np.array_equal(st, y)


def test_not_a_wav(tmp_path: Path) -> None:
    p = tmp_path / "text.wav"
    p.write_text("this is not audio at all, just words")
    with pytest.raises(BitearError, match="text.wav.*not a readable PCM WAV"):
        read_wav(p)


def test_truncated_header(tmp_path: Path) -> None:
    write_wav(tmp_path / "ok.wav", tone(440), 16000)
    p = tmp_path / "cut.wav"
    p.write_bytes((tmp_path / "ok.wav").read_bytes()[:20])
    with pytest.raises(BitearError, match="cut.wav"):
        read_wav(p)


def test_truncated_data_keeps_what_is_there(tmp_path: Path) -> None:
    write_wav(tmp_path / "ok.wav", tone(440), 16000)
    p = tmp_path / "short.wav"
    p.write_bytes((tmp_path / "ok.wav").read_bytes()[: 44 + 2 * 1000 + 1])  # header + 1000.5 samples
    x, rate = read_wav(p)
    assert rate == 16000 and len(x) == 1000


def test_empty_wav(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    with pytest.raises(BitearError, match="empty.wav: empty"):
        read_wav(p)


@pytest.mark.parametrize("width", [1, 3, 4])
def test_unsupported_sample_width(tmp_path: Path, width: int) -> None:
    p = tmp_path / f"w{width}.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1), w.setsampwidth(width), w.setframerate(16000)
        w.writeframes(b"\x01" * width * 100)
    with pytest.raises(BitearError, match=f"w{width}.wav: unsupported sample width {8 * width} bits"):
        read_wav(p)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(BitearError, match="nothere.wav: not found"):
        read_wav(tmp_path / "nothere.wav")
    with pytest.raises(BitearError, match="is a folder"):
        read_wav(tmp_path)


def test_load_clip_refuses_wrong_format_unless_convert(tmp_path: Path) -> None:
    x8 = tone(500, rate=8000)
    p = tmp_path / "st8k.wav"
    write_wav(p, np.stack([x8, x8], axis=1), 8000)
    with pytest.raises(BitearError, match=r"st8k.wav: expected 16000 Hz mono, found 8000 Hz 2 channels"):
        load_clip(p)
    y = load_clip(p, convert=True)
    assert y.dtype == np.int16 and y.shape == (16000,)
    assert abs(peak_hz(y, 16000) - 500) <= 1
    assert abs(np.abs(y).max() - 8000) < 300  # mixing two equal channels keeps the level

    mono8 = tmp_path / "m8k.wav"
    write_wav(mono8, x8, 8000)
    with pytest.raises(BitearError, match="found 8000 Hz mono"):
        load_clip(mono8)


def test_resample_keeps_frequency() -> None:
    x = tone(1000, rate=22050)
    y = resample(x, 22050, 16000)
    assert len(y) == 16000 and abs(peak_hz(y, 16000) - 1000) <= 1


def test_fit_to_one_second() -> None:
    short = np.arange(1, 1001, dtype=np.int16)
    left = fit_to_one_second(short)
    assert left.shape == (16000,) and np.array_equal(left[:1000], short) and not left[1000:].any()
    centre = fit_to_one_second(short, align="center")
    assert np.array_equal(centre[7500:8500], short) and not centre[:7500].any() and not centre[8500:].any()

    long = np.zeros(24000, np.int16)
    long[0] = 1
    long[15000:17000] = 5000  # the loud part lies beyond the first second
    assert fit_to_one_second(long)[0] == 1  # left: keep the start
    cut = fit_to_one_second(long, align="center")
    assert cut.shape == (16000,) and (cut == 5000).sum() == 2000  # loudest window keeps the word
    with pytest.raises(ValueError):
        fit_to_one_second(short, align="right")


def test_chunk_running_past_the_end_is_a_clear_error(tmp_path: Path) -> None:
    """A chunk whose size field runs past the end of the file (wave raises a bare RuntimeError there)."""
    fmt = b"fmt " + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") \
        + (16000).to_bytes(4, "little") + (32000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    listing = b"LIST" + (99999).to_bytes(4, "little") + b"abcd"
    path = tmp_path / "runaway_chunk.wav"
    path.write_bytes(b"RIFF" + (100).to_bytes(4, "little") + b"WAVE" + fmt + listing)
    with pytest.raises(BitearError, match="runaway_chunk.wav"):
        read_wav(path)
