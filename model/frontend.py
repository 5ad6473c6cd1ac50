"""Host binding of the C front end: the very `bitear_frontend.c` the firmware runs, built with gcc.

    from model.frontend import compute_features, StreamingFrontend, FRONTEND_PARAMS
    feats = compute_features(audio)        # (16000,) int16 -> (49, 40) int8; (N, 16000) -> (N, 49, 40)
    fe = StreamingFrontend(); frame = fe.push(hop)   # (320,) int16 -> (40,) int8

The C sources are compiled on first use with the host gcc
(`-O2 -std=c99 -Wall -Wextra -Werror -shared -fPIC`) into `cache_dir('lib')`, in a file named
by a hash of the sources, so editing the C (or regenerating its tables) rebuilds it. The batch
loop runs inside one C call (`bitear_frontend_clips`), so features of tens of thousands of clips
take seconds.

FRONTEND_PARAMS (for checkpoint metadata and codegen checks) holds the numbers the compiled code
really uses (read from the C headers by model.facts) plus `source_hash`, the sha256 of the front
end's C sources.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from model.errors import BitearError
from model.facts import (BINS, CLIP_SAMPLES, FFT_SIZE, FLOOR, FMAX_HZ, FMIN_HZ, FRAMES, HOP, LOG_OFFSET, LOG_SCALE,
                         SAMPLE_RATE, STATUS_TEXT, WINDOW)
from model.facts import STATUS_NAMES as C_STATUS_NAMES
from model.paths import PLUGIN_DIR as C_DIR
from model.paths import cache_dir
from model.toolchain import FRONTEND_HEADERS, FRONTEND_SOURCES, HOST_CFLAGS, SHARED_LIB, compile_host, host_cc

CFLAGS = (*HOST_CFLAGS, *SHARED_LIB)


def _source_hash() -> str:
    h = hashlib.sha256()
    for name in FRONTEND_SOURCES + FRONTEND_HEADERS:
        h.update(name.encode() + b"\0" + (C_DIR / name).read_bytes() + b"\0")
    return h.hexdigest()


SOURCE_HASH: str = _source_hash()

FRONTEND_PARAMS: dict = {
    "sample_rate": SAMPLE_RATE,
    "window": WINDOW,
    "hop": HOP,
    "fft_size": FFT_SIZE,
    "bins": BINS,
    "frames": FRAMES,
    "clip_samples": CLIP_SAMPLES,
    "fmin_hz": FMIN_HZ,
    "fmax_hz": FMAX_HZ,
    "log_scale": LOG_SCALE,
    "log_offset": LOG_OFFSET,
    "floor": FLOOR,
    "window_fn": "hann_periodic",
    "mel": "htk_triangles_in_mel",
    "value": "clamp(floor(log_scale*log2(E)+0.5)+log_offset,-128,127)",
    "source_hash": SOURCE_HASH,
}

STATUS_NAMES = {code: f"{name} ({STATUS_TEXT[code]})" for code, name in C_STATUS_NAMES.items()}


class FrontendState(ctypes.Structure):
    """Mirror of bitear_frontend_t (its size is checked against the C at load time)."""

    _fields_ = [
        ("history", ctypes.c_int16 * (WINDOW - HOP)),
        ("work", ctypes.c_int16 * FFT_SIZE),
        ("magic", ctypes.c_uint32),
        ("hops", ctypes.c_uint32),
    ]


_lib = None
_lib_lock = threading.Lock()


def build_library(extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile the front end into a shared library in the cache (if not already there); return its path.

    The compiler is $CC or gcc; the cache key covers the sources, the flags and the compiler's name."""
    cc = host_cc()
    key = hashlib.sha256((SOURCE_HASH + " ".join(CFLAGS + extra_flags) + cc).encode()).hexdigest()[:16]
    out = cache_dir("lib") / f"libbitear_frontend_{key}.so"
    if out.is_file():
        return out
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        tmp_out = Path(tmp) / out.name
        compile_host([C_DIR / s for s in FRONTEND_SOURCES], tmp_out, [*CFLAGS, *extra_flags], [C_DIR],
                     "compiling the C front end")
        os.replace(tmp_out, out)  # atomic: concurrent builders agree
    return out


def load_library(path: Path | None = None) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path or build_library()))
    i16p, i8p = ctypes.POINTER(ctypes.c_int16), ctypes.POINTER(ctypes.c_int8)
    st = ctypes.POINTER(FrontendState)
    lib.bitear_frontend_init.argtypes = [st]
    lib.bitear_frontend_push.argtypes = [st, i16p, i8p]
    lib.bitear_frontend_clip.argtypes = [st, i16p, i8p]
    lib.bitear_frontend_clips.argtypes = [st, i16p, ctypes.c_size_t, i8p]
    for f in (lib.bitear_frontend_init, lib.bitear_frontend_push, lib.bitear_frontend_clip, lib.bitear_frontend_clips):
        f.restype = ctypes.c_int32
    lib.bitear_frontend_state_size.restype = ctypes.c_size_t
    if lib.bitear_frontend_state_size() != ctypes.sizeof(FrontendState):
        raise BitearError(f"model/frontend.py's FrontendState ({ctypes.sizeof(FrontendState)} bytes) does not mirror "
                          f"bitear_frontend_t ({lib.bitear_frontend_state_size()} bytes): update it")
    return lib


def library() -> ctypes.CDLL:
    """The loaded front-end library (built on first use)."""
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = load_library()
    return _lib


def check_status(status: int, what: str) -> None:
    if status != 0:
        raise BitearError(f"{what} failed with status {status}: {STATUS_NAMES.get(status, 'unknown status')}")


def _ptr(array: np.ndarray, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


def compute_features(audio: np.ndarray) -> np.ndarray:
    """Front-end features of 1 s clips: (16000,) int16 -> (49, 40) int8, (N, 16000) int16 -> (N, 49, 40) int8."""
    if not isinstance(audio, np.ndarray):
        raise ValueError(f"audio must be a numpy array of int16, found {type(audio).__name__}")
    if audio.dtype != np.int16:
        raise ValueError(f"audio must be int16 (16 kHz PCM), found dtype {audio.dtype}")
    if audio.ndim not in (1, 2) or audio.shape[-1] != CLIP_SAMPLES:
        raise ValueError(f"audio must have shape ({CLIP_SAMPLES},) or (N, {CLIP_SAMPLES}), found {audio.shape}")
    single = audio.ndim == 1
    clips = np.ascontiguousarray(audio.reshape(-1, CLIP_SAMPLES))
    out = np.empty((len(clips), FRAMES, BINS), np.int8)
    if len(clips):
        state = FrontendState()
        check_status(library().bitear_frontend_clips(ctypes.byref(state), _ptr(clips, ctypes.c_int16), len(clips),
                                                     _ptr(out, ctypes.c_int8)), "bitear_frontend_clips")
    return out[0] if single else out


class StreamingFrontend:
    """The streaming C front end: push HOP (320) int16 samples, get one (40,) int8 frame.

    A fresh object has zero history, exactly like the device after bitear_frontend_init, so pushing
    the 50 hops of a clip and dropping the first frame reproduces compute_features(clip).
    """

    def __init__(self) -> None:
        self._lib = library()
        self._state = FrontendState()
        self.reset()

    def reset(self) -> None:
        check_status(self._lib.bitear_frontend_init(ctypes.byref(self._state)), "bitear_frontend_init")

    @property
    def hops(self) -> int:
        return int(self._state.hops)

    def push(self, hop: np.ndarray) -> np.ndarray:
        if not isinstance(hop, np.ndarray) or hop.dtype != np.int16 or hop.shape != (HOP,):
            found = f"{hop.shape} {hop.dtype}" if isinstance(hop, np.ndarray) else type(hop).__name__
            raise ValueError(f"a hop must be a ({HOP},) int16 array, found {found}")
        hop = np.ascontiguousarray(hop)
        out = np.empty(BINS, np.int8)
        check_status(self._lib.bitear_frontend_push(ctypes.byref(self._state), _ptr(hop, ctypes.c_int16),
                                                    _ptr(out, ctypes.c_int8)), "bitear_frontend_push")
        return out

    def push_many(self, audio: np.ndarray) -> np.ndarray:
        """Push len(audio) // HOP whole hops; (n_hops, 40) int8. A tail shorter than a hop is ignored."""
        audio = np.asarray(audio)
        if audio.dtype != np.int16 or audio.ndim != 1:
            raise ValueError(f"audio must be 1-D int16, found {audio.shape} {audio.dtype}")
        n = len(audio) // HOP
        return np.stack([self.push(audio[i * HOP:(i + 1) * HOP]) for i in range(n)]) if n else np.empty((0, BINS), np.int8)
