"""host/audio_input.py and the board search of host/board.py, without hardware: a WAV of any rate and channel
count arrives as 16 kHz mono hops (plus the silent tail), paced to the clock when asked; the
microphone source (a stand-in for sounddevice) resamples 48 kHz blocks to 16 kHz and counts the
blocks it had to drop instead of blocking the audio thread; only USB ports of known board
vendors are candidates."""
from __future__ import annotations

import time
import types

import numpy as np
import pytest

from host import audio_input, connect
from model.audio import write_wav
from model.errors import BitearError


def test_wav_any_rate_and_channels_becomes_16k_mono(tmp_path):
    t = np.arange(44100) / 44100
    tone = np.round(8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    path = tmp_path / "tone.wav"
    write_wav(path, np.stack([tone, tone // 2], axis=1), 44100)
    src = audio_input.WavSource(path, tail_s=0.5, chunk_hops=4)
    assert (src.source_rate, src.source_channels) == (44100, 2)
    audio = np.concatenate(list(src.chunks()))
    assert len(audio) == 16000 + 8000 and audio.dtype == np.int16
    assert np.all(audio[16000:] == 0)                               # the silent tail
    spectrum = np.abs(np.fft.rfft(audio[:16000].astype(np.float64)))
    assert np.argmax(spectrum) == 440                               # 1 Hz bins: the tone survived resampling
    assert np.abs(audio[2000:14000]).max() == pytest.approx(0.75 * 8000, rel=0.05)   # channels averaged
    assert all(len(c) == 1280 for c in list(src.chunks())[:-1])
    assert "44100 Hz, 2 ch -> 16 kHz mono" in src.describe()


def test_wav_realtime_is_paced_to_the_clock(tmp_path):
    path = tmp_path / "short.wav"
    write_wav(path, np.zeros(4800, np.int16), 16000)               # 0.3 s
    src = audio_input.WavSource(path, realtime=True, tail_s=0.0, chunk_hops=1)
    t0 = time.monotonic()
    n = sum(len(c) for c in src.chunks())
    assert n == 4800 and time.monotonic() - t0 >= 0.27


class FakeStream:
    def __init__(self, callback, blocksize, **kw):
        self.callback, self.blocksize, self.kw = callback, blocksize, kw

    def start(self):
        pass

    def stop(self):
        pass

    def close(self):
        pass

    def feed(self, block):
        self.callback(block.reshape(-1, 1), len(block), None, None)


def fake_sounddevice(rate=48000):
    created = []

    def InputStream(**kw):
        created.append(FakeStream(**kw))
        return created[-1]

    def query_devices(device=None, kind=None):
        if device == "nope":
            raise ValueError("No input device matching 'nope'")
        return {"name": "fake mic", "default_samplerate": rate, "max_input_channels": 1}

    return types.SimpleNamespace(InputStream=InputStream, query_devices=query_devices,
                                 PortAudioError=RuntimeError), created


def test_microphone_blocks_are_resampled_and_overflow_is_counted(monkeypatch):
    sd, created = fake_sounddevice(48000)
    monkeypatch.setattr(audio_input, "_sounddevice", lambda: sd)
    mic = audio_input.MicSource(block_ms=40, max_queue_s=0.2)      # room for 5 blocks
    stream = created[0]
    assert stream.kw["samplerate"] == 48000 and stream.kw["channels"] == 1 and stream.kw["dtype"] == "int16"
    t = np.arange(48000) / 48000
    signal = np.round(6000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    with mic:
        for i in range(7):                                         # 7 blocks of 40 ms; the queue holds 5
            stream.feed(signal[i * 1920:(i + 1) * 1920])
        assert mic.dropped_samples == 2 * 1920
        got = []
        for chunk in mic.chunks():                                 # one chunk per queued block
            got.append(chunk)
            if len(got) == 5:
                mic.stop()
    audio = np.concatenate(got)
    assert audio.dtype == np.int16 and 5 * 640 - 400 <= len(audio) <= 5 * 640   # less the resampler's delay
    assert "48000 Hz -> 16 kHz" in mic.describe()


def test_unknown_microphone_is_a_clear_error(monkeypatch):
    sd, _ = fake_sounddevice()
    monkeypatch.setattr(audio_input, "_sounddevice", lambda: sd)
    with pytest.raises(BitearError, match="nope.*--list-devices"):
        audio_input.MicSource("nope")


def test_only_known_board_vendors_are_candidates(monkeypatch):
    from serial.tools import list_ports

    ports = [types.SimpleNamespace(device="/dev/ttyACM0", vid=0x2341, description="Nano 33 BLE"),
             types.SimpleNamespace(device="/dev/ttyS0", vid=None, description="n/a"),
             types.SimpleNamespace(device="/dev/ttyUSB0", vid=0x1234, description="some modem")]
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    assert connect.candidate_ports() == [("/dev/ttyACM0", "Arduino Nano 33 BLE")]
