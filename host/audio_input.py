"""Audio sources for host/listen.py: a WAV file or the microphone, delivered as 16 kHz mono int16.

    from host.audio_input import WavSource, MicSource, list_devices
    with WavSource("words.wav", realtime=False) as src:        # any rate / channel count
        for chunk in src.chunks():                              # int16 arrays at 16 kHz
            ...
    with MicSource(device=None) as mic:                         # sounddevice + soxr resampling
        for chunk in mic.chunks():                              # endless; stop with mic.stop()
            ...

WavSource checks the file when it is made (model.audio.audio_info: errors name the file —
missing, empty, corrupt, an absurd sample rate), then reads it piece by piece while streaming
(model.audio.stream_16k: PCM 8..32-bit, float, WAVE_FORMAT_EXTENSIBLE, FLAC, ...; channels mixed
down, resampled to 16 kHz with a soxr.ResampleStream), so memory stays bounded whatever the
file's length. It appends `tail_s` seconds of silence (so the last word still gets the results the
detector needs) and yields chunks of `chunk_hops` 20 ms hops — as fast as they are taken, or paced
to the wall clock with `realtime=True`.

MicSource opens a sounddevice input stream at the device's own rate (mono, int16) and resamples
it to 16 kHz with a soxr.ResampleStream as it arrives. The audio callback only queues blocks;
blocks that the consumer does not take in time (queue full) are dropped and counted
(`dropped_samples`), never blocking the audio thread. Errors (PortAudio missing, no such device,
no input channels) are BitearError with what to do.
"""
from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from model.audio import audio_info, stream_16k
from model.errors import BitearError
from model.facts import HOP, SAMPLE_RATE


class WavSource:
    """A WAV file as 16 kHz mono int16 chunks (see the module docstring)."""

    def __init__(self, path: str | Path, realtime: bool = False, chunk_hops: int = 4, tail_s: float = 1.0):
        self.path = Path(path)
        info = audio_info(self.path)          # BitearError naming the file, before any board is opened
        self.source_rate = info.rate
        self.source_channels = info.channels
        self.samples = int(round(info.frames * SAMPLE_RATE / info.rate))   # at 16 kHz, without the tail
        self.tail = int(round(tail_s * SAMPLE_RATE))
        self.realtime = realtime
        self.chunk = max(1, chunk_hops) * HOP
        self.dropped_samples = 0

    @property
    def duration_s(self) -> float:
        return (self.samples + self.tail) / SAMPLE_RATE

    def describe(self) -> str:
        return (f"{self.path.name} ({self.source_rate} Hz, {self.source_channels} ch -> 16 kHz mono, "
                f"{self.duration_s:.1f} s{', real time' if self.realtime else ''})")

    def _audio(self) -> Iterator[np.ndarray]:
        yield from stream_16k(self.path)
        yield np.zeros(self.tail, np.int16)

    def chunks(self) -> Iterator[np.ndarray]:
        """Chunks of `chunk` samples (the last one shorter); the file is read as they are taken."""
        t0 = time.monotonic()
        sent = 0
        pending = np.zeros(0, np.int16)
        for block in self._audio():
            pending = np.concatenate([pending, block])
            while len(pending) >= self.chunk:
                yield self._paced(pending[:self.chunk], t0, sent)
                sent += self.chunk
                pending = pending[self.chunk:]
        if len(pending):
            yield self._paced(pending, t0, sent)

    def _paced(self, chunk: np.ndarray, t0: float, start: int) -> np.ndarray:
        if self.realtime and (wait := t0 + start / SAMPLE_RATE - time.monotonic()) > 0:
            time.sleep(wait)
        return chunk

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
