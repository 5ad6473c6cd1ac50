"""The pretrained DS-CNN-L keyword-spotting teacher (ARM ML-KWS-for-MCU) ported to tinygrad.

The teacher gives the binary student its soft labels. Its weights ship in the repository,
`model/teacher_ds_cnn_l/ds_cnn_l_weights.npz` (TF node names with `/` -> `__`), batch norm
is folded into the conv weights, and the network runs through a fixed-shape `TinyJit`:

    teacher = Teacher.load()                      # default: model.paths.TEACHER_DIR
    logits = teacher.logits(audio_int16)          # (N, 16000) int16 -> (N, 12) float32
    teacher.sha256                                # of the weights file, for checkpoint metadata

Network (TF NHWC, input 49 x 10 MFCC from `model.mfcc`): conv_1 10x4 stride (2, 1) SAME -> 276
channels; 5 x (depthwise 3x3 [stride 2 in the first] SAME, pointwise 1x1), each conv + batch
norm + ReLU; mean over the 13 x 5 map; fc 276 -> 12. TF SAME padding puts the odd extra
row/column at the bottom/right. Here tensors are NCHW (tinygrad's conv layout).

`python -m model.teacher [DATA_DIR]` measures accuracy on speech_commands_v2_dev and throughput.
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import sys
import time
import wave
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tinygrad import Context, Tensor, TinyJit

from model import mfcc as frontend
from model.errors import BitearError
from model.facts import LABELS, SAMPLE_RATE
from model.paths import TEACHER_DIR, data_dir

WEIGHTS_FILE = "ds_cnn_l_weights.npz"
BN_EPSILON = 1e-3
CHANNELS = 276
N_BLOCKS = 5
DEFAULT_BATCH = 64  # tinygrad JIT batch (32..256 all gave ~130 clips/s here)
NUMPY_CHUNK = 16

_PREFIX = "MobileNet__"  # scope of every weight in the npz


def _bn_keys(scope: str) -> list[tuple[str, tuple[int, ...]]]:
    return [(f"{_PREFIX}{scope}__{part}", (CHANNELS,)) for part in ("Const", "beta", "moving_mean", "moving_variance")]


def expected_keys() -> dict[str, tuple[int, ...]]:
    """npz key -> shape for every weight the teacher needs (TF layouts: HWIO, depthwise HWC1)."""
    keys = {f"{_PREFIX}conv_1__weights": (10, 4, 1, CHANNELS), f"{_PREFIX}conv_1__biases": (CHANNELS,)}
    keys.update(_bn_keys("conv_1__batch_norm"))
    for i in range(1, N_BLOCKS + 1):
        s = f"conv_ds_{i}"
        keys[f"{_PREFIX}{s}__depthwise_conv__depthwise_weights"] = (3, 3, CHANNELS, 1)
        keys[f"{_PREFIX}{s}__depthwise_conv__biases"] = (CHANNELS,)
        keys.update(_bn_keys(f"{s}__dw_batch_norm"))
        keys[f"{_PREFIX}{s}__pointwise_conv__weights"] = (1, 1, CHANNELS, CHANNELS)
        keys[f"{_PREFIX}{s}__pointwise_conv__biases"] = (CHANNELS,)
        keys.update(_bn_keys(f"{s}__pw_batch_norm"))
    keys[f"{_PREFIX}fc1__weights"] = (CHANNELS, len(LABELS))
    keys[f"{_PREFIX}fc1__biases"] = (len(LABELS),)
    return keys


def _fold(raw: Mapping[str, np.ndarray], conv: str, bias: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold BiasAdd + inference batch norm into the conv: returns (weight * scale, new bias), float64.

    BN(x + b) = gamma * (x + b - mean) / sqrt(var + eps) + beta, with the scale on the output channel
    (last axis of HWIO; axis 2 of the depthwise HWC1 layout, which is also the last non-unit axis).
    """
    gamma = raw[f"{_PREFIX}{bn}__Const"].astype(np.float64)
    scale = gamma / np.sqrt(raw[f"{_PREFIX}{bn}__moving_variance"].astype(np.float64) + BN_EPSILON)
    shift = (raw[f"{_PREFIX}{bias}"] - raw[f"{_PREFIX}{bn}__moving_mean"]).astype(np.float64) * scale
    w = raw[f"{_PREFIX}{conv}"].astype(np.float64)
    w = w * (scale[:, None] if w.shape[-1] == 1 else scale)  # depthwise (3,3,C,1) vs HWIO (...,C_out)
    return w, shift + raw[f"{_PREFIX}{bn}__beta"].astype(np.float64)


def fold_weights(raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TF weights (npz names) -> float32 arrays in tinygrad layouts with batch norm folded in.

    Keys: conv_1.w (276,1,10,4) OIHW, conv_1.b; ds{i}.dw.w (276,1,3,3) grouped OIHW, ds{i}.dw.b;
    ds{i}.pw.w (276,276) as (in, out) for a matmul, ds{i}.pw.b; fc.w (276,12), fc.b.
    """
    out: dict[str, np.ndarray] = {}
    w, b = _fold(raw, "conv_1__weights", "conv_1__biases", "conv_1__batch_norm")
    out["conv_1.w"], out["conv_1.b"] = w.transpose(3, 2, 0, 1), b
    for i in range(1, N_BLOCKS + 1):
        s = f"conv_ds_{i}"
        w, b = _fold(raw, f"{s}__depthwise_conv__depthwise_weights", f"{s}__depthwise_conv__biases", f"{s}__dw_batch_norm")
        out[f"ds{i}.dw.w"], out[f"ds{i}.dw.b"] = w.transpose(2, 3, 0, 1), b
        w, b = _fold(raw, f"{s}__pointwise_conv__weights", f"{s}__pointwise_conv__biases", f"{s}__pw_batch_norm")
        out[f"ds{i}.pw.w"], out[f"ds{i}.pw.b"] = w[0, 0], b
    out["fc.w"], out["fc.b"] = raw[f"{_PREFIX}fc1__weights"], raw[f"{_PREFIX}fc1__biases"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF SAME padding (before, after) for one axis: out = ceil(size/stride), extra pad goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv(x: Tensor, w: Tensor, b: Tensor, stride: tuple[int, int], groups: int = 1) -> Tensor:
    """NCHW conv with TF SAME padding, + bias, + ReLU."""
    (kh, kw), (h, wd) = w.shape[2:], x.shape[2:]
    top, bottom = same_pads(h, kh, stride[0])
    left, right = same_pads(wd, kw, stride[1])
    return x.conv2d(w, b, groups=groups, stride=stride, padding=(left, right, top, bottom)).relu()


def forward(p: Mapping[str, Tensor], features: Tensor) -> Tensor:
    """DS-CNN-L on MFCC features (B, 49, 10) -> logits (B, 12). `p` holds `fold_weights` tensors."""
    x = _conv(features.unsqueeze(1), p["conv_1.w"], p["conv_1.b"], (2, 1))  # (B, 276, 25, 10)
    for i in range(1, N_BLOCKS + 1):
        x = _conv(x, p[f"ds{i}.dw.w"], p[f"ds{i}.dw.b"], (2, 2) if i == 1 else (1, 1), groups=CHANNELS)
        # pointwise 1x1 conv as a matmul over channels
        x = (x.permute(0, 2, 3, 1) @ p[f"ds{i}.pw.w"] + p[f"ds{i}.pw.b"]).relu().permute(0, 3, 1, 2)
    pooled = x.mean(axis=(2, 3))  # (B, 276): AvgPool 13x5 VALID covers the whole map
    return pooled @ p["fc.w"] + p["fc.b"]


def _pad_same_nhwc(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    pads = [(0, 0), same_pads(x.shape[1], kernel[0], stride[0]), same_pads(x.shape[2], kernel[1], stride[1]), (0, 0)]
    return np.pad(x, pads)


def _openblas():
    """(get, set) for the thread count of numpy's bundled OpenBLAS, or None when not found."""
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for lib_path in sorted(libs.glob("libscipy_openblas*.so")) + sorted(libs.glob("libopenblas*.so")):
        try:
            lib = ctypes.CDLL(str(lib_path))  # already loaded by numpy: same handle
        except OSError:
            continue
        for get_name, set_name in (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                                   ("openblas_get_num_threads", "openblas_set_num_threads")):
            if hasattr(lib, get_name) and hasattr(lib, set_name):
                getter, setter = getattr(lib, get_name), getattr(lib, set_name)
                getter.restype, setter.argtypes = ctypes.c_int, [ctypes.c_int]
                return getter, setter
    return None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run numpy matmuls on one thread: with the other core busy (training, compilers), two OpenBLAS
    threads were 3x *slower* here (~220 vs ~700 clips/s). Restores the previous count afterwards."""
    blas = _openblas()
    if blas is None:
        yield
        return
    getter, setter = blas
    before = getter()
    setter(1)
    try:
        yield
    finally:
        setter(before)


def numpy_forward(p: Mapping[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """The same network in float32 numpy (NHWC, im2col + BLAS matmuls): a fast alternative to `forward`.

    Agrees with the tinygrad path to ~1e-5 on the logits; tinygrad stays the model of record.
    """
    return (numpy_embedding(p, features) @ p["fc.w"] + p["fc.b"]).astype(np.float32)


def numpy_embedding(p: Mapping[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """MFCC (B, 49, 10) -> the (B, 276) average-pooled features that the final fully connected layer reads."""
    b = features.shape[0]
    x = _pad_same_nhwc(features.astype(np.float32)[..., None], (10, 4), (2, 1))[..., 0]  # (B, 58, 13)
    cols = np.lib.stride_tricks.sliding_window_view(x, (10, 4), axis=(1, 2))[:, ::2]  # (B, 25, 10, 10, 4)
    w1 = p["conv_1.w"].reshape(CHANNELS, 40).T
    x = np.maximum(cols.reshape(-1, 40) @ w1 + p["conv_1.b"], 0).reshape(b, 25, 10, CHANNELS)
    for i in range(1, N_BLOCKS + 1):
        s = 2 if i == 1 else 1
        xp = _pad_same_nhwc(x, (3, 3), (s, s))
        ho, wo = -(-x.shape[1] // s), -(-x.shape[2] // s)
        w = p[f"ds{i}.dw.w"][:, 0]  # (C, 3, 3)
        acc = np.broadcast_to(p[f"ds{i}.dw.b"], (b, ho, wo, CHANNELS)).copy()
        for dy in range(3):
            for dx in range(3):
                acc += xp[:, dy:dy + s * ho:s, dx:dx + s * wo:s, :] * w[:, dy, dx]
        x = np.maximum(acc, 0).reshape(-1, CHANNELS)
        x = np.maximum(x @ p[f"ds{i}.pw.w"] + p[f"ds{i}.pw.b"], 0).reshape(b, ho, wo, CHANNELS)
    return x.mean(axis=(1, 2)).astype(np.float32)


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """Load and check the teacher's npz; BitearError naming the file (and key) on any problem."""
    if not path.is_file():
        raise BitearError(f"teacher weights file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BitearError(f"teacher weights file {path} is not a readable .npz ({type(exc).__name__}: {exc})") from None
    for key, shape in expected_keys().items():
        if key not in raw:
            raise BitearError(f"teacher weights file {path} lacks the tensor '{key}'")
        if raw[key].shape != shape:
            raise BitearError(f"teacher weights file {path}: '{key}' has shape {raw[key].shape}, expected {shape}")
        if not np.all(np.isfinite(raw[key])):
            raise BitearError(f"teacher weights file {path}: '{key}' contains NaN or infinity")
    return raw


def default_weights_path() -> Path:
    """The weights shipped in the repository: model/teacher_ds_cnn_l/ds_cnn_l_weights.npz."""
    return TEACHER_DIR / WEIGHTS_FILE


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Teacher:
    """DS-CNN-L with folded batch norm. `logits` runs tinygrad (the model of record) on fixed-size
    batches through a TinyJit; `backend="numpy"` runs the float32 numpy port instead (faster here).

    beam: tinygrad BEAM for compiling the JIT's kernels (None: inherit the BEAM environment
    variable). beam=1 made the network ≈ 2.7x faster here; its first, cold search took ≈ 75 s and
    is then cached in tinygrad's CACHEDB.
    """

    def __init__(self, raw: Mapping[str, np.ndarray], sha256: str = "", batch_size: int = DEFAULT_BATCH,
                 beam: int | None = None):
        self.sha256 = sha256
        self.batch_size = batch_size
        self.beam = beam
        self.folded = fold_weights(raw)
        self.params = {k: Tensor(v).realize() for k, v in self.folded.items()}
        self._jit = TinyJit(self._step)

    @classmethod
    def load(cls, path: str | Path | None = None, batch_size: int = DEFAULT_BATCH, beam: int | None = None) -> "Teacher":
        """From the weights npz, or a folder holding it; default: the weights shipped in the repository."""
        path = default_weights_path() if path is None else Path(path)
        if path.is_dir():
            path = path / WEIGHTS_FILE
        return cls(read_weights(path), sha256=file_sha256(path), batch_size=batch_size, beam=beam)

    def _step(self, features: Tensor) -> Tensor:
        return forward(self.params, features).realize()

    def logits_from_features(self, features: np.ndarray, backend: str = "tinygrad") -> np.ndarray:
        """(N, 49, 10) float32 MFCC -> (N, 12) float32 logits, in batches (the last one zero-padded)."""
        if backend not in ("tinygrad", "numpy"):
            raise ValueError(f"unknown teacher backend {backend!r} (tinygrad or numpy)")
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 3 or features.shape[1:] != (frontend.N_FRAMES, frontend.N_COEFFS):
            raise ValueError(f"teacher features must be (N, 49, 10), got {features.shape}")
        n, bs = features.shape[0], self.batch_size
        out = np.empty((n, len(LABELS)), dtype=np.float32)
        if backend == "numpy":
            with single_threaded_blas():  # chunks of 16 clips keep the activations in cache: fastest here
                for lo in range(0, n, NUMPY_CHUNK):
                    out[lo:lo + NUMPY_CHUNK] = numpy_forward(self.folded, features[lo:lo + NUMPY_CHUNK])
            return out
        for lo in range(0, n, bs):
            chunk = features[lo:lo + bs]
            if chunk.shape[0] < bs:
                chunk = np.concatenate([chunk, np.zeros((bs - chunk.shape[0], *chunk.shape[1:]), np.float32)])
            with Context(**({} if self.beam is None else {"BEAM": self.beam})):  # used while the JIT compiles
                out[lo:lo + bs] = self._jit(Tensor(chunk)).numpy()[:min(bs, n - lo)]
        return out

    def logits_and_embedding(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 49, 10) float32 MFCC -> ((N, 12) logits, (N, 276) pooled features), numpy port (for hint losses)."""
        features = np.asarray(features, dtype=np.float32)
        emb = np.empty((features.shape[0], CHANNELS), dtype=np.float32)
        with single_threaded_blas():
            for lo in range(0, features.shape[0], NUMPY_CHUNK):
                emb[lo:lo + NUMPY_CHUNK] = numpy_embedding(self.folded, features[lo:lo + NUMPY_CHUNK])
        return (emb @ self.folded["fc.w"] + self.folded["fc.b"]).astype(np.float32), emb

    def logits(self, audio: np.ndarray, backend: str = "tinygrad") -> np.ndarray:
        """(N, 16000) int16 audio -> (N, 12) float32 logits (label order `LABELS`)."""
        return self.logits_from_features(frontend.mfcc(audio), backend=backend)


def read_wav_int16(path: Path) -> np.ndarray:
    """A 16 kHz mono 16-bit wav as int16 samples (only what the benchmark below needs)."""
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
            raise BitearError(f"{path}: expected 16 kHz mono 16-bit wav")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def main(argv: list[str] | None = None) -> int:
    """Accuracy and throughput of the teacher on speech_commands_v2_dev (folder per class)."""
    parser = argparse.ArgumentParser(prog="python -m model.teacher", description=main.__doc__)
    parser.add_argument("data", nargs="?", help="data folder with speech_commands_v2_dev/ (default: BITEAR_DATA or ../shared/data)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--beam", type=int, default=None, help="tinygrad BEAM for the teacher's kernels")
    args = parser.parse_args(argv)
    try:
        root = Path(args.data) if args.data else data_dir()
        if root is None:
            raise BitearError("data folder not found: pass it or set BITEAR_DATA (default ../shared/data beside the repository)")
        dev = root / "speech_commands_v2_dev"
        files = sorted(p for p in dev.glob("*/*.wav") if p.parent.name in LABELS)
        if not files:
            raise BitearError(f"no wav files in class folders under {dev}")
        audio = np.stack([frontend.fit_length(read_wav_int16(p)) for p in files])
        labels = np.array([LABELS.index(p.parent.name) for p in files])
        teacher = Teacher.load(batch_size=args.batch, beam=args.beam)
    except BitearError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"teacher sha256 {teacher.sha256}")
    t0 = time.perf_counter()
    feats = frontend.mfcc(audio)
    print(f"mfcc: {len(files) / (time.perf_counter() - t0):.0f} clips/s")
    for backend in ("tinygrad", "numpy"):
        t0 = time.perf_counter()
        teacher.logits_from_features(feats[:2 * args.batch], backend=backend)  # JIT capture + compile
        t1 = time.perf_counter()
        logits = teacher.logits_from_features(feats, backend=backend)
        t2 = time.perf_counter()
        acc = float((logits.argmax(1) == labels).mean())
        batch = args.batch if backend == "tinygrad" else NUMPY_CHUNK
        print(f"{backend}: accuracy {acc * 100:.2f} % on {len(files)} clips, {len(files) / (t2 - t1):.0f} clips/s "
              f"(batch {batch}, warm-up {t1 - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
