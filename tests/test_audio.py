"""Tests of model/audio.py: WAV reading/writing, clear errors for bad files, conversion, 1 s fitting;
the formats users have (PCM 8/16/24/32-bit, float, WAVE_FORMAT_EXTENSIBLE: headers written here by
hand, and by sox), absurd rates, and streaming to 16 kHz mono in bounded memory."""
from __future__ import annotations

import shutil
import struct
import subprocess
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest

from model.audio import (MAX_RATE, MIN_RATE, audio_info, fit_to_one_second, load_clip, read_wav, resample,
                         stream_16k, write_wav)
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
    with pytest.raises(BitearError, match="text.wav.*not a readable WAV"):
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


PCM_GUID_TAIL = struct.pack("<HH", 0x0000, 0x0010) + bytes.fromhex("800000aa00389b71")   # KSDATAFORMAT_SUBTYPE_*


def wav_bytes(data: bytes, rate: int, channels: int, bits: int, tag: int = 1, extensible: bool = False) -> bytes:
    """A WAV file written by hand (independent of the reader): format `tag` (1 PCM, 3 float), plain
    or as WAVE_FORMAT_EXTENSIBLE with `tag` as the subformat GUID."""
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, bits)
    if extensible:
        fmt += struct.pack("<HHII", 22, bits, (1 << channels) - 1, tag) + PCM_GUID_TAIL
    elif tag != 1:
        fmt += struct.pack("<H", 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def ramp(n: int = 4000) -> np.ndarray:
    """Full-range test signal in [-1, 1): a chirp, so every bit of the samples matters."""
    t = np.arange(n) / n
    return np.sin(2 * np.pi * (50 * t + 900 * t * t)) * 0.999


@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
@pytest.mark.parametrize("kind", ["pcm8", "pcm16", "pcm24", "pcm32", "float32"])
def test_pcm_and_float_wavs_read_as_int16(tmp_path: Path, kind: str, extensible: bool) -> None:
    x = ramp()
    if kind == "pcm8":      # unsigned, offset 128
        v = np.round(x * 127).astype(np.int64) + 128
        data, bits, tag, expected = v.astype(np.uint8).tobytes(), 8, 1, (v - 128) * 256
    elif kind == "pcm16":
        v = np.round(x * 32767).astype(np.int64)
        data, bits, tag, expected = v.astype("<i2").tobytes(), 16, 1, v
    elif kind == "pcm24":
        v = np.round(x * (2 ** 23 - 1)).astype(np.int64)
        data = b"".join(int(s & 0xFFFFFF).to_bytes(3, "little") for s in v)
        bits, tag, expected = 24, 1, np.round(v / 256)
    elif kind == "pcm32":
        v = np.round(x * (2 ** 31 - 1)).astype(np.int64)
        data, bits, tag, expected = v.astype("<i4").tobytes(), 32, 1, np.round(v / 65536)
    else:
        v = x.astype("<f4")
        data, bits, tag, expected = v.tobytes(), 32, 3, np.round(v.astype(np.float64) * 32768)
    p = tmp_path / f"{kind}.wav"
    p.write_bytes(wav_bytes(data, 22050, 1, bits, tag, extensible))
    y, rate = read_wav(p)
    assert rate == 22050 and y.dtype == np.int16 and y.shape == (len(x),)
    expected = np.clip(expected, -32768, 32767)
    tolerance = 1 if kind == "pcm32" else 0     # 32-bit integers pass through float32 (24-bit mantissa)
    assert np.abs(y.astype(np.int64) - expected).max() <= tolerance
    assert ("WAVEX" if extensible else "WAV ") in audio_info(p).format + " "


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is installed by make setup")
@pytest.mark.parametrize("args", [["-b", "24", "-c", "2"], ["-b", "16", "-c", "4"], ["-b", "32", "-c", "2"],
                                  ["-e", "floating-point", "-b", "32", "-c", "1"]], ids=["24bit", "16bit4ch", "32bit", "float"])
def test_files_written_by_sox_play(tmp_path: Path, args: list[str]) -> None:
    p = tmp_path / "sox.wav"
    subprocess.run(["sox", "-n", *args, "-r", "44100", str(p), "synth", "1", "sine", "440", "vol", "0.5"], check=True)
    tag = struct.unpack_from("<H", p.read_bytes(), 20)[0]
    assert tag == (3 if "floating-point" in args else 0xFFFE)    # what the test is about
    y = np.concatenate(list(stream_16k(p)))
    assert abs(len(y) - 16000) <= 1 and abs(peak_hz(y, 16000) - 440) <= 1
    assert np.abs(y[1000:15000]).max() == pytest.approx(16384, rel=0.02)


@pytest.mark.parametrize("rate", [1, 100, MIN_RATE - 1, MAX_RATE + 1, 2_000_000])
def test_an_absurd_rate_is_one_clear_error(tmp_path: Path, rate: int) -> None:
    p = tmp_path / f"r{rate}.wav"
    p.write_bytes(wav_bytes(np.zeros(100, "<i2").tobytes(), rate, 1, 16))
    for read in (read_wav, audio_info, lambda q: next(stream_16k(q))):
        with pytest.raises(BitearError, match=rf"r{rate}.wav: sample rate {rate} Hz .* outside {MIN_RATE} .. {MAX_RATE} Hz"):
            read(p)


def test_rate_zero_empty_and_garbage_name_the_file(tmp_path: Path) -> None:
    cases = {"zero.wav": wav_bytes(np.zeros(100, "<i2").tobytes(), 0, 1, 16),
             "nodata.wav": wav_bytes(b"", 16000, 1, 16),
             "zerobytes.wav": b"",
             "noise.wav": bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8)),
             "badfmt.wav": wav_bytes(np.zeros(100, "<i2").tobytes(), 16000, 0, 16)}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        for read in (read_wav, audio_info, lambda q: list(stream_16k(q))):
            with pytest.raises(BitearError, match=rf"file .*{name}: "):
                read(tmp_path / name)


def test_stream_16k_matches_the_whole_file_conversion(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(0, 3000, (3 * 44100, 2))).astype(np.int16)
    p = tmp_path / "st.wav"
    write_wav(p, x, 44100)
    whole = load_clip(p, convert=True)
    streamed = np.concatenate(list(stream_16k(p)))
    assert len(streamed) == len(whole) == 3 * 16000
    assert np.abs(streamed.astype(np.int32) - whole).max() <= 2       # float rounding only
    mono16 = tmp_path / "m.wav"
    write_wav(mono16, x[:, 0], 16000)
    assert np.array_equal(np.concatenate(list(stream_16k(mono16))), x[:, 0])   # 16 kHz mono: bit for bit


def test_stream_16k_memory_stays_bounded(tmp_path: Path) -> None:
    """A 2-minute 44.1 kHz stereo file (21 MB): the peak of Python-visible allocations while it is
    streamed stays a few MB, not the file's size (the whole-file reader held it all, then more)."""
    p = tmp_path / "long.wav"
    second = np.round(np.random.default_rng(4).normal(0, 2000, (44100, 2))).astype(np.int16)
    with wave.open(str(p), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(44100)
        for _ in range(120):
            w.writeframes(second.tobytes())
    size = p.stat().st_size
    tracemalloc.start()
    try:
        n = sum(len(block) for block in stream_16k(p))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 120 * 16000
    assert peak < 8e6 < size / 2, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


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
