"""Random but realistic student checkpoints and feature windows, for tests and for benchmarks before
the trained checkpoint exists.

A freshly initialised student has batch norm at its identity (mean 0, var 1, gamma 1, beta 0):
every threshold would sit at acc = 0, which hides threshold and flip bugs. `random_student` sets
batch-norm statistics from the layer's actual accumulator distribution on random inputs (so
outputs are balanced, like after training), draws gamma with both signs and some exact zeros,
and gives the heads non-zero biases.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from model import checkpoint, student
from model.checkpoint import save_checkpoint
from model.facts import BINS, FRAMES, HOP, SAMPLE_RATE, WINDOW
from model.paths import cache_dir
from model.student import BinaryStudent, LABELS, binarize_ste, conv_pad, conv_skip, int8_scale, quantize_int8_ste

FRONTEND_PLACEHOLDER = {"sample_rate": SAMPLE_RATE, "window": WINDOW, "hop": HOP, "bins": BINS}

# Issue 11's check that nothing outside a config hard-codes the network: 10 classes, 4 blocks, 3
# exits (one block without), other channels / kernels / strides, valid padding with skips.
TEN_CLASS_CONFIG: dict = {
    "frames": FRAMES, "bins": BINS, "classes": 10, "time_padding": "valid",
    "stem": {"kernel": 5, "stride": 1, "channels": 32},                     # 49 frames -> 45
    "blocks": [{"kernel": 5, "stride": 3, "channels": 64, "exit": True},    # 45 -> skip 1, 14 out
               {"kernel": 3, "stride": 2, "channels": 32, "exit": False},   # 14 -> skip 1, 6 out
               {"kernel": 3, "stride": 1, "channels": 96, "exit": True},    # 6 -> 4
               {"kernel": 1, "stride": 2, "channels": 64, "exit": True}],   # 4 -> skip 1, 2 out
}


def random_features(rng: np.random.Generator, n: int, frames: int = FRAMES, bins: int = BINS) -> np.ndarray:
    """int8 feature windows shaped like the front end's output: a smooth 'spectrogram' plus noise."""
    base = rng.integers(-110, 40, size=(n, 1, bins))
    drift = np.cumsum(rng.integers(-6, 7, size=(n, frames, 1)), axis=1)
    noise = rng.integers(-20, 21, size=(n, frames, bins))
    x = np.clip(base + drift + noise, -128, 127)
    # a few windows at the extremes
    if n >= 4:
        x[0] = -128
        x[1] = rng.choice([-128, 127], size=(frames, bins))
    return x.astype(np.int8)


def random_student(seed: int = 0, config: dict | None = None, calib: int = 64):
    """A BinaryStudent with random weights and calibrated, sign-varied batch norm (tinygrad)."""
    from tinygrad import Tensor

    Tensor.manual_seed(seed)
    rng = np.random.default_rng(seed)
    student = BinaryStudent(config)
    x = Tensor(random_features(rng, calib, student.config["frames"], student.config["bins"]).astype(np.float32))
    x = x.permute(0, 2, 1).unsqueeze(2)

    def calibrate(norm, y: Tensor) -> Tensor:
        """Set running stats from y's pre-norm values, randomize gamma/beta; return the +-1 output."""
        yn = y.numpy()  # (N, C, 1, T)
        C = yn.shape[1]
        mean = yn.mean(axis=(0, 2, 3)) + rng.normal(0, 0.3, C) * yn.std(axis=(0, 2, 3))
        var = yn.var(axis=(0, 2, 3)) * rng.uniform(0.5, 2.0, C) + 1e-3
        gamma = rng.uniform(0.2, 2.0, C) * rng.choice([1, -1], C, p=[0.8, 0.2])
        gamma[rng.choice(C, 2, replace=False)] = 0.0
        beta = rng.normal(0, 0.3, C)
        bn = norm.bn
        for t, v in ((bn.running_mean, mean), (bn.running_var, var), (bn.weight, gamma), (bn.bias, beta)):
            t.assign(Tensor(v.astype(np.float32))).realize()
        return binarize_ste(norm(y))

    def pre_norm(layer, a: Tensor, weight: Tensor, pad_value: float) -> Tensor:
        """The layer's conv before its batch norm, with the student's time padding and skip."""
        pad = conv_pad(layer.kernel, layer.padding)
        a = a[..., conv_skip(a.shape[-1], layer.kernel, layer.stride, layer.padding):]
        if pad:
            a = a.pad(((0, 0), (0, 0), (0, 0), (pad, pad)), value=pad_value)
        return a.conv2d(weight, stride=(1, layer.stride))

    stem = student.stem
    scale = int8_scale(stem.weight, axis=(1, 2, 3))
    y = pre_norm(stem, x, quantize_int8_ste(stem.weight, scale), 0.0) * scale.reshape(1, -1, 1, 1)
    a = calibrate(stem.norm, y)
    for block in student.blocks:
        a = calibrate(block.norm, pre_norm(block, a, binarize_ste(block.weight), 1.0))
    for head in student.heads:
        head.weight.assign(Tensor(rng.normal(0, 0.5, head.weight.shape).astype(np.float32))).realize()
        head.bias.assign(Tensor(rng.normal(0, 0.5, head.bias.shape).astype(np.float32))).realize()
    return student


def default_labels(classes: int) -> list[str]:
    """model.student.LABELS for a 12-class config, else class0, class1, ..."""
    return list(LABELS) if classes == len(LABELS) else [f"class{i}" for i in range(classes)]


def save_random_checkpoint(path: str | Path, seed: int = 0, config: dict | None = None,
                           exit_thresholds: list | None = None, frontend: dict | None = None,
                           labels: list[str] | None = None) -> Path:
    """Write a random student checkpoint with complete metadata (labels: `labels`, else
    default_labels of the config's classes); returns the path."""
    student = random_student(seed, config)
    n_exits = sum(1 for b in student.config["blocks"] if b.get("exit"))
    if frontend is None:
        try:
            from model.frontend import FRONTEND_PARAMS  # the C front end's parameters, when present
            frontend = dict(FRONTEND_PARAMS)
        except ImportError:
            frontend = dict(FRONTEND_PLACEHOLDER)
    meta = {"labels": list(labels) if labels is not None else default_labels(student.config["classes"]), "frontend": frontend,
            "exit_thresholds": exit_thresholds if exit_thresholds is not None else [0.3] * (n_exits - 1),
            "description": f"random student, seed {seed} (codegen.testing)"}
    save_checkpoint(path, student, meta)
    return Path(path)


def cached_random_checkpoint(seed: int = 0, exit_thresholds: list | None = None, config: dict | None = None) -> Path:
    """save_random_checkpoint into the on-disk cache, keyed by everything that shapes the file
    (this module's, the student's and the checkpoint writer's sources, seed, thresholds, front end):
    tests reuse it across runs instead of paying tinygrad's compile time each time."""

    try:
        from model.frontend import FRONTEND_PARAMS
        frontend = dict(FRONTEND_PARAMS)
    except ImportError:
        frontend = dict(FRONTEND_PLACEHOLDER)
    h = hashlib.sha256()
    for mod in (__file__, student.__file__, checkpoint.__file__):
        h.update(Path(mod).read_bytes())
    h.update(json.dumps([seed, exit_thresholds, frontend, config], sort_keys=True).encode())
    path = cache_dir("test-checkpoints") / f"random-{seed}-{h.hexdigest()[:16]}.safetensors"
    if not path.is_file():
        tmp = path.with_name(path.name + ".tmp")
        save_random_checkpoint(tmp, seed, config=config, exit_thresholds=exit_thresholds, frontend=frontend)
        tmp.replace(path)
    return path
