"""Audio sources for host/listen.py: a WAV file or the microphone, delivered as 16 kHz mono int16.

    from host.audio_input import WavSource, MicSource, list_devices
    with WavSource("words.wav", realtime=False) as src:        # any rate / channel count
        for chunk in src.chunks():                              # int16 arrays at 16 kHz
            ...
    with MicSource(device=None) as mic:                         # sounddevice + soxr resampling
        for chunk in mic.chunks():                              # endless; stop with mic.stop()
            ...

WavSource reads the whole file with model.audio.read_wav (errors name the file: missing, empty,
corrupt, not 16-bit PCM), mixes the channels down and resamples to 16 kHz with soxr, appends
`tail_s` seconds of silence (so the last word still gets the results the detector needs), and
yields chunks of `chunk_hops` 20 ms hops — at once, or paced to the wall clock with
`realtime=True`.

MicSource opens a sounddevice input stream at the device's own rate (mono, int16) and resamples
it to 16 kHz with a soxr.ResampleStream as it arrives. The audio callback only queues blocks;
blocks that the consumer does not take in time (queue full) are dropped and counted
(`dropped_samples`), never blocking the audio thread. Errors (PortAudio missing, no such device,
no input channels) are BitearError with what to do.
"""
from __future__ import annotations

import queue
import struct
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from model.audio import read_wav, resample, to_mono
from model.errors import BitearError
from model.facts import HOP, SAMPLE_RATE


class WavSource:
    """A WAV file as 16 kHz mono int16 chunks (see the module docstring)."""

    def __init__(self, path: str | Path, realtime: bool = False, chunk_hops: int = 4, tail_s: float = 1.0):
        self.path = Path(path)
        try:
            samples, rate = read_wav(self.path)
        except (RuntimeError, EOFError, struct.error) as e:   # damage that slips past read_wav's own checks
            raise BitearError(f"file {self.path}: not a readable PCM WAV file (corrupt chunk: "
                              f"{type(e).__name__} {e})".replace(" )", ")")) from None
        self.source_rate = rate
        self.source_channels = 1 if samples.ndim == 1 else samples.shape[1]
        audio = resample(to_mono(samples), rate, SAMPLE_RATE)
        self.audio = np.concatenate([audio, np.zeros(int(round(tail_s * SAMPLE_RATE)), np.int16)])
        self.realtime = realtime
        self.chunk = max(1, chunk_hops) * HOP
        self.dropped_samples = 0

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    def describe(self) -> str:
        return (f"{self.path.name} ({self.source_rate} Hz, {self.source_channels} ch -> 16 kHz mono, "
                f"{self.duration_s:.1f} s{', real time' if self.realtime else ''})")

    def chunks(self) -> Iterator[np.ndarray]:
        t0 = time.monotonic()
        for start in range(0, len(self.audio), self.chunk):
            if self.realtime:
                due = t0 + start / SAMPLE_RATE
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
            yield self.audio[start:start + self.chunk]

    def __enter__(self) -> "WavSource":
        return self

    def __exit__(self, *exc) -> None:
        return None


def _sounddevice():
    try:
        import sounddevice
    except OSError as e:   # the PortAudio library is missing
        raise BitearError(f"the microphone needs PortAudio: install the Debian package libportaudio2 ({e})") from None
    return sounddevice


def list_devices() -> str:
    """The audio input devices sounddevice sees, one per line (index, name, channels, rate)."""
    sd = _sounddevice()
    lines = []
    for i, dev in enumerate(sd.query_devices()):
        if dev["max_input_channels"] > 0:
            lines.append(f"{i:3d}  {dev['name']}  ({dev['max_input_channels']} in, {dev['default_samplerate']:.0f} Hz)")
    return "\n".join(lines) if lines else "no audio input devices found"


class MicSource:
    """The microphone as 16 kHz mono int16 chunks (see the module docstring)."""

    realtime = True

    def __init__(self, device: int | str | None = None, block_ms: int = 40, max_queue_s: float = 2.0):
        sd = _sounddevice()
        try:
            info = sd.query_devices(device, "input")
        except (ValueError, sd.PortAudioError) as e:
            raise BitearError(f"audio input device {device if device is not None else '(default)'}: {e} "
                              "(python host/listen.py --list-devices shows them)") from None
        self.name = info["name"]
        self.rate = int(info["default_samplerate"])
        self._sd = sd
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=max(2, int(max_queue_s * 1000 / block_ms)))
        self._resampler = None
        if self.rate != SAMPLE_RATE:
            import soxr
            self._resampler = soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="int16", quality="HQ")
        self.dropped_samples = 0
        self._running = False
        try:
            self._stream = sd.InputStream(device=device, channels=1, samplerate=self.rate, dtype="int16",
                                          blocksize=max(1, self.rate * block_ms // 1000), callback=self._callback)
        except sd.PortAudioError as e:
            raise BitearError(f"cannot open the microphone {self.name!r}: {e}") from None

    def describe(self) -> str:
        return f"microphone {self.name!r} ({self.rate} Hz -> 16 kHz mono)"

    def _callback(self, indata, frames, time_info, status) -> None:   # the audio thread: never block
        try:
            self._queue.put_nowait(indata[:, 0].copy())
        except queue.Full:
            self.dropped_samples += frames

    def __enter__(self) -> "MicSource":
        self._stream.start()
        self._running = True
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self._stream.close()

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._stream.stop()

    def chunks(self) -> Iterator[np.ndarray]:
        while self._running:
            try:
                block = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if self._resampler is not None:
                block = self._resampler.resample_chunk(block)
            if len(block):
                yield block.astype(np.int16, copy=False)
