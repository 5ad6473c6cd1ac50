"""Run the C runtime from Python: built for the host (gcc, ctypes) or for the Cortex-M4 or M0+ (model/m4run.py,
unicorn), on the same feature windows, with the same small C harness — for the bit-exactness tests
and the benchmark.

    with open_runtime("host", gen_dir) as rt:          # or "m4" / "m4-ref" (BITEAR_REFERENCE_KERNELS) / "m0plus"
        out = rt.run(features, thresholds_q16)         # dict of numpy arrays, see CRuntime.run
        bits = rt.bconv("opt", *layer_arrays)           # one kernel call (kernel tests)

gen_dir holds what `python -m codegen` writes: bitear_model_tables.{h,c} and the manifest
(default: the committed ones in firmware/lib/bitear); the hand-written runtime always comes from
firmware/lib/bitear, the harness entry points from codegen/harness.c (not part of the firmware).
C is built with model/toolchain.py's compilers and flag sets.
"""
from __future__ import annotations

import ctypes
import hashlib
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from codegen import manifest
from codegen.files import HEADER_NAME, SOURCE_NAME
from model.errors import BitearError
from model.m4run import M4Program
from model.paths import PLUGIN_DIR, cache_dir
from model.toolchain import HOST_CFLAGS as _HOST, RUNTIME_SOURCES, SHARED_LIB, compile_host

HOST_CFLAGS = (*_HOST, "-pedantic", *SHARED_LIB)

HARNESS_C = Path(__file__).resolve().parent / "harness.c"


def _gen_dir(gen_dir) -> Path:
    gen = Path(gen_dir) if gen_dir is not None else PLUGIN_DIR
    for name in ("bitear_model_tables.h", "bitear_model_tables.c"):
        if not (gen / name).is_file():
            raise BitearError(f"{gen / name} not found: run python -m codegen CHECKPOINT -o {gen}")
    return gen


TABLE_FILES = (HEADER_NAME, SOURCE_NAME)  # the generated C; the rest of PLUGIN_DIR is hand-written


def assemble(gen_dir=None) -> Path:
    """A folder holding the runtime (firmware/lib/bitear) with gen_dir's tables in place of the
    committed ones. Needed because `#include "bitear_model_tables.h"` in bitear_model.h finds the
    header next to bitear_model.h first, whatever -I says: compiling the runtime from
    firmware/lib/bitear against tables elsewhere would silently use the committed header."""
    gen = _gen_dir(gen_dir)
    if gen.resolve() == PLUGIN_DIR.resolve():
        return PLUGIN_DIR
    files = {p.name: p for p in sorted(PLUGIN_DIR.glob("*.[ch]")) if p.name not in TABLE_FILES}
    files.update({name: gen / name for name in TABLE_FILES})
    h = hashlib.sha256()
    for name, path in sorted(files.items()):
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    out = cache_dir("harness", "src", h.hexdigest()[:20])
    for name, path in files.items():
        target = out / name
        data = path.read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
    return out


def _sources(src: Path) -> list[Path]:
    return [*(src / s for s in RUNTIME_SOURCES), src / "bitear_model_tables.c", HARNESS_C]


def build_host_library(gen_dir=None, extra_flags: tuple[str, ...] = ()) -> Path:
    """gcc -shared build of runtime + tables + harness, cached by the hash of every input."""
    gen = assemble(gen_dir)
    srcs = _sources(gen)
    flags = [*HOST_CFLAGS, *extra_flags]
    h = hashlib.sha256(" ".join(flags).encode())
    for path in [*srcs, *sorted(gen.glob("*.h"))]:
        h.update(str(path.name).encode() + b"\0" + path.read_bytes())
    out = cache_dir("harness", "host", h.hexdigest()[:20]) / "libbitear_model.so"
    if out.is_file():
        return out
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        compile_host(srcs, Path(tmp) / out.name, flags, [gen]).replace(out)
    return out


class CRuntime:
    """Common interface of the host and the emulated-M4 builds."""

    classes: int
    exits: int
    act_words: int

    def _layout(self, record_words: int, classes: int, exits: int) -> None:
        self.record_words, self.classes, self.exits = record_words, classes, exits
        self.act_words = record_words - (4 + 2 * classes + exits * (2 + classes))

    def _decode(self, rec: np.ndarray) -> dict[str, np.ndarray]:
        C, E = self.classes, self.exits
        out = {"status": rec[:, 0], "label": rec[:, 1], "exit_index": rec[:, 2],
               "entropy_q16": rec[:, 3].astype(np.uint32).astype(np.int64),
               "logits": rec[:, 4:4 + C], "scores_q15": rec[:, 4 + C:4 + 2 * C]}
        p = 4 + 2 * C
        reached, ent, logits = [], [], []
        for _ in range(E):
            reached.append(rec[:, p])
            ent.append(rec[:, p + 1].astype(np.uint32).astype(np.int64))
            logits.append(rec[:, p + 2:p + 2 + C])
            p += 2 + C
        out["reached"] = np.stack(reached, 1).astype(bool)
        out["exit_entropy_q16"] = np.stack(ent, 1)
        out["exit_logits"] = np.stack(logits, 1)
        out["act"] = rec[:, p:].astype(np.uint32)
        return out

    # ---- streaming model (bitear_stream_model.h) -----------------------------------------------
    STREAM_INFER, STREAM_RESET, STREAM_THRESHOLDS = 1, 2, 4  # step flags of harness_stream_model_run

    def stream_model(self, frames: np.ndarray, flags: np.ndarray, thresholds_q16: np.ndarray | None = None,
                     init: bool = True) -> dict[str, np.ndarray]:
        """Push frames (n, bins) one by one into a bitear_stream_model_t (fresh when init), with per
        step flags (STREAM_* bits) and thresholds (n, early exits); per step: status (1 = no infer
        asked), label, exit_index, entropy_q16, logits, scores_q15, layer_outputs (n, layers),
        catch_ups, window_recomputes (the statistics after the step)."""
        x = np.ascontiguousarray(frames, np.int8)
        n = len(x)
        early = max(1, self.exits - 1)
        thr = np.zeros((n, early), np.int32) if thresholds_q16 is None else \
            np.ascontiguousarray(np.asarray(thresholds_q16, np.int64).reshape(n, -1), np.int32)
        assert thr.shape == (n, early), thr.shape
        f = np.ascontiguousarray(flags, np.uint8)
        rec = self._stream_model_run(x, f, thr, init)
        C = self.classes
        layers = rec.shape[1] - 4 - 2 * C - 2
        p = 4 + 2 * C
        return {"status": rec[:, 0], "label": rec[:, 1], "exit_index": rec[:, 2],
                "entropy_q16": rec[:, 3].astype(np.uint32).astype(np.int64), "logits": rec[:, 4:4 + C],
                "scores_q15": rec[:, 4 + C:p], "layer_outputs": rec[:, p:p + layers],
                "catch_ups": rec[:, p + layers], "window_recomputes": rec[:, p + layers + 1]}

    def _stream_model_run(self, x, flags, thr, init: bool) -> np.ndarray:
        raise NotImplementedError


class HostRuntime(CRuntime):
    def __init__(self, gen_dir=None):
        self.lib = ctypes.CDLL(str(build_host_library(gen_dir)))
        L = self.lib
        for name, args in {"harness_run": [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p],
                           "bitear_model_init": [ctypes.c_void_p],
                           "bitear_model_set_threshold": [ctypes.c_void_p, ctypes.c_int, ctypes.c_int32],
                           "harness_bconv": [ctypes.c_int] + [ctypes.c_void_p] * 6,
                           "harness_stem_kernel": [ctypes.c_int] + [ctypes.c_void_p] * 6,
                           "harness_head_kernel": [ctypes.c_int] + [ctypes.c_void_p] * 5,
                           "harness_stream_run": [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                                  ctypes.c_int, ctypes.c_void_p, ctypes.c_int],
                           "harness_stream_model_init": [ctypes.c_void_p],
                           "harness_stream_model_run": [ctypes.c_void_p] * 4 + [ctypes.c_int, ctypes.c_void_p]}.items():
            getattr(L, name).argtypes = args
            getattr(L, name).restype = ctypes.c_int
        self.model = ctypes.create_string_buffer(L.harness_model_size())
        self._layout(L.harness_record_words(), *_header_shape(gen_dir))
        self.init()

    def init(self) -> None:
        if self.lib.bitear_model_init(self.model) != 0:
            raise BitearError("bitear_model_init failed")

    def set_thresholds(self, thresholds_q16) -> None:
        for e, t in enumerate(thresholds_q16):
            st = self.lib.bitear_model_set_threshold(self.model, e, int(t))
            if st != 0:
                raise BitearError(f"bitear_model_set_threshold({e}, {t}) returned {st}")

    def run(self, features: np.ndarray, thresholds_q16=None) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(features, np.int8)
        if thresholds_q16 is not None:
            self.set_thresholds(thresholds_q16)
        out = np.zeros((len(x), self.record_words), np.int32)
        self.lib.harness_run(self.model, x.ctypes.data, len(x), out.ctypes.data)
        return self._decode(out)

    def stream_model_init(self) -> int:
        """A fresh bitear_stream_model_t; the status of bitear_stream_model_init."""
        self.sm = ctypes.create_string_buffer(self.lib.harness_stream_model_size())
        return self.lib.harness_stream_model_init(self.sm)

    def _stream_model_run(self, x, flags, thr, init: bool) -> np.ndarray:
        if init or getattr(self, "sm", None) is None:
            st = self.stream_model_init()
            if st != 0:
                raise BitearError(f"bitear_stream_model_init returned {st}")
        out = np.zeros((len(x), self.lib.harness_stream_model_record_words()), np.int32)
        st = self.lib.harness_stream_model_run(self.sm, x.ctypes.data, flags.ctypes.data, thr.ctypes.data, len(x),
                                               out.ctypes.data)
        if st != 0:
            raise BitearError(f"harness_stream_model_run returned {st}")
        return out

    def bconv(self, variant: str, shape, w, thr, flips, x, out_words_total: int) -> np.ndarray:
        out = np.zeros(out_words_total, np.uint32)
        args = [np.ascontiguousarray(a, dt) for a, dt in ((shape, np.uint16), (w, np.uint32), (thr, np.int16),
                                                           (flips, np.uint32), (x, np.uint32))]
        self.lib.harness_bconv(0 if variant == "ref" else 1, *(a.ctypes.data for a in args), out.ctypes.data)
        return out

    def stream(self, audio: np.ndarray, period: int, chunk: int, max_results: int = 1000) -> np.ndarray:
        """Results of streaming audio at full depth: (n, 2 + classes) int32 rows (hop, exit, logits)."""
        state = ctypes.create_string_buffer(self.lib.harness_stream_size())
        a = np.ascontiguousarray(audio, np.int16)
        out = np.zeros((max_results, 2 + self.classes), np.int32)
        n = self.lib.harness_stream_run(state, period, a.ctypes.data, len(a), chunk, out.ctypes.data, max_results)
        if n < 0:
            raise BitearError(f"harness_stream_run failed ({n})")
        return out[:min(n, max_results)]

    def head(self, variant: str, shape, w, bias, act, classes: int) -> np.ndarray:
        out = np.zeros(classes, np.int32)
        args = [np.ascontiguousarray(a, dt) for a, dt in ((shape, np.uint16), (w, np.int8), (bias, np.int32),
                                                           (act, np.uint32))]
        if self.lib.harness_head_kernel(0 if variant == "ref" else 1, *(a.ctypes.data for a in args), out.ctypes.data):
            raise BitearError("harness_head_kernel: too many channels")
        return out

    def stem(self, variant: str, shape, w, thr, flips, x, out_words_total: int) -> np.ndarray:
        out = np.zeros(out_words_total, np.uint32)
        args = [np.ascontiguousarray(a, dt) for a, dt in ((shape, np.uint16), (w, np.int8), (thr, np.int32),
                                                           (flips, np.uint32), (x, np.int8))]
        rc = self.lib.harness_stem_kernel(0 if variant == "ref" else 1, *(a.ctypes.data for a in args), out.ctypes.data)
        if rc != 0:
            raise BitearError("optimized stem kernel not available on the host")
        return out

    def close(self) -> None:
        pass


def _header_shape(gen_dir=None) -> tuple[int, int]:
    """(classes, exits) of the generated model, from its manifest."""
    m = manifest.read(_gen_dir(gen_dir))
    return m["classes"], len(m["exits"])


class M4Runtime(CRuntime):
    """The same harness built with arm-none-eabi-gcc and run in unicorn (model/m4run.py), for the
    Cortex-M4F (cpu="m4") or the Cortex-M0+ (cpu="m0plus": no DSP instructions, so the plain-C
    kernels, as with reference_kernels on the M4)."""

    def __init__(self, gen_dir=None, reference_kernels: bool = False, cpu: str = "m4"):
        gen = _gen_dir(gen_dir)
        src = assemble(gen)
        defines = {"BITEAR_REFERENCE_KERNELS": None} if reference_kernels else None
        self.prog = M4Program([str(p) for p in _sources(src)], [str(src)], defines=defines, cpu=cpu)
        self.where = self.prog.cpu.name
        self._layout(self.prog.call("harness_record_words", counting=None).ret, *_header_shape(gen))
        self.model = self.prog.alloc(self.prog.call("harness_model_size", counting=None).ret)
        self.init()

    def init(self) -> None:
        if self.prog.call("bitear_model_init", self.model, counting=None).ret != 0:
            raise BitearError(f"bitear_model_init failed on the {self.where}")

    def set_thresholds(self, thresholds_q16) -> None:
        for e, t in enumerate(thresholds_q16):
            st = self.prog.call("bitear_model_set_threshold", self.model, e, int(t) & 0xFFFFFFFF, counting=None).ret
            if st != 0:
                raise BitearError(f"bitear_model_set_threshold({e}, {t}) returned {st} on the {self.where}")

    def run(self, features: np.ndarray, thresholds_q16=None) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(features, np.int8)
        if thresholds_q16 is not None:
            self.set_thresholds(thresholds_q16)
        mark = self.prog.heap_mark()
        xa = self.prog.put(x)
        out = self.prog.alloc(4 * len(x) * self.record_words)
        self.prog.call("harness_run", self.model, xa, len(x), out, counting=None)
        rec = self.prog.get(out, np.int32, len(x) * self.record_words).reshape(len(x), self.record_words)
        self.prog.heap_release(mark)  # give the scratch back
        return self._decode(rec)

    def stream(self, audio: np.ndarray, period: int, chunk: int, max_results: int = 1000) -> np.ndarray:
        p = self.prog
        mark = p.heap_mark()
        state = p.alloc(p.call("harness_stream_size", counting=None).ret)
        a = p.put(np.ascontiguousarray(audio, np.int16))
        out = p.alloc(4 * max_results * (2 + self.classes))
        n = p.call("harness_stream_run", state, period, a, len(audio), chunk, out, max_results, counting=None).ret
        rows = p.get(out, np.int32, max_results * (2 + self.classes)).reshape(max_results, -1)
        p.heap_release(mark)
        if n < 0:
            raise BitearError(f"harness_stream_run failed ({n}) on the {self.where}")
        return rows[:min(n, max_results)]

    def stream_model_init(self) -> int:
        """A fresh bitear_stream_model_t in the emulator's memory; the status of its init."""
        p = self.prog
        if getattr(self, "sm", None) is None:
            self.sm = p.alloc(p.call("harness_stream_model_size", counting=None).ret)
        return p.call("harness_stream_model_init", self.sm, counting=None).ret

    def _stream_model_run(self, x, flags, thr, init: bool) -> np.ndarray:
        p = self.prog
        if init or getattr(self, "sm", None) is None:
            st = self.stream_model_init()
            if st != 0:
                raise BitearError(f"bitear_stream_model_init returned {st} on the {self.where}")
        words = p.call("harness_stream_model_record_words", counting=None).ret
        mark = p.heap_mark()
        xa, fa, ta = p.put(x), p.put(flags), p.put(thr)
        out = p.alloc(4 * len(x) * words)
        st = p.call("harness_stream_model_run", self.sm, xa, fa, ta, len(x), out, counting=None).ret
        rec = p.get(out, np.int32, len(x) * words).reshape(len(x), words)
        p.heap_release(mark)
        if st != 0:
            raise BitearError(f"harness_stream_model_run returned {st} on the {self.where}")
        return rec

    def stream_model_instructions(self, frames: np.ndarray, infer: np.ndarray,
                                  thresholds_q16=None) -> tuple[np.ndarray, np.ndarray]:
        """Instructions per step on a fresh stream: (push_frame, infer) for each frame (infer 0 when
        not asked), with these early-exit thresholds (default: the checkpoint's)."""
        p = self.prog
        if self.stream_model_init() != 0:
            raise BitearError(f"bitear_stream_model_init failed on the {self.where}")
        for e, t in enumerate(thresholds_q16 or []):
            if p.call("bitear_stream_model_set_threshold", self.sm, e, int(t) & 0xFFFFFFFF, counting=None).ret != 0:
                raise BitearError(f"bitear_stream_model_set_threshold({e}, {t}) failed on the {self.where}")
        mark = p.heap_mark()
        xa = p.put(np.ascontiguousarray(frames, np.int8))
        r = p.alloc(256)
        push, inf = np.zeros(len(frames), np.int64), np.zeros(len(frames), np.int64)
        bins = frames.shape[1]
        for i in range(len(frames)):
            res = p.call("harness_stream_model_push", self.sm, xa + i * bins)
            push[i] = res.instructions
            if infer[i]:
                res = p.call("harness_stream_model_infer", self.sm, r)
                if res.ret != 0:
                    raise BitearError(f"bitear_stream_model_infer returned {res.ret} on the {self.where}")
                inf[i] = res.instructions
        p.heap_release(mark)
        return push, inf

    def _kernel(self, func: str, variant: str, arrays, out_words_total: int) -> tuple[np.ndarray, int]:
        mark = self.prog.heap_mark()
        addrs = [self.prog.put(np.ascontiguousarray(a)) for a in arrays]
        out = self.prog.alloc(4 * out_words_total)
        res = self.prog.call(func, 0 if variant == "ref" else 1, *addrs, out)
        result = self.prog.get(out, np.uint32, out_words_total)
        self.prog.heap_release(mark)
        if res.ret != 0:
            raise BitearError(f"{func} variant {variant} not available on the {self.where}")
        return result, res.instructions

    def bconv(self, variant: str, shape, w, thr, flips, x, out_words_total: int, with_count: bool = False):
        arrays = [np.asarray(shape, np.uint16), np.asarray(w, np.uint32), np.asarray(thr, np.int16),
                  np.asarray(flips, np.uint32), np.asarray(x, np.uint32)]
        out, n = self._kernel("harness_bconv", variant, arrays, out_words_total)
        return (out, n) if with_count else out

    def stem(self, variant: str, shape, w, thr, flips, x, out_words_total: int, with_count: bool = False):
        arrays = [np.asarray(shape, np.uint16), np.asarray(w, np.int8), np.asarray(thr, np.int32),
                  np.asarray(flips, np.uint32), np.asarray(x, np.int8)]
        out, n = self._kernel("harness_stem_kernel", variant, arrays, out_words_total)
        return (out, n) if with_count else out

    def close(self) -> None:
        self.prog.close()


@contextmanager
def open_runtime(target: str, gen_dir=None):
    """target: "host", "m4" (optimized kernels), "m4-ref" (BITEAR_REFERENCE_KERNELS) or "m0plus"
    (Cortex-M0+, whose plain-C kernels are the reference ones)."""
    if target == "host":
        rt = HostRuntime(gen_dir)
    elif target in ("m4", "m4-ref", "m0plus"):
        rt = M4Runtime(gen_dir, reference_kernels=target == "m4-ref", cpu="m0plus" if target == "m0plus" else "m4")
    else:
        raise ValueError(f"unknown target {target!r}")
    try:
        yield rt
    finally:
        rt.close()
