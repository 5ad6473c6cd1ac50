"""Instructions of the streaming runtime (bitear_stream_model) against full-window inference
(bitear_model_infer) on the emulated Cortex-M4 (unicorn, optimized kernels), for a "valid"-padded
network: per inference (average, worst), per second of audio (network only, no front end).

    python -m codegen.stream_bench [--checkpoint PATH] [--frames 400] [--period 1 2 4 8]

Without a checkpoint it uses a random "valid" student (codegen.testing, the shipped shape); exits
then follow that random network's entropies, so the figures show the mechanism, not the trained
model's exit rates.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from codegen import generate, harness
from codegen import intmodel as im
from codegen.intmodel import IntModel

FRAME_SECONDS = 0.02  # hop 320 samples at 16 kHz; checked against the model's front end below


def _frame_seconds(model: IntModel) -> float:
    fe = model.frontend
    if "hop" in fe and "sample_rate" in fe:
        return fe["hop"] / fe["sample_rate"]
    return FRAME_SECONDS


def measure(model: IntModel, stream: np.ndarray, periods: list[int], thresholds_q16: list[int]) -> dict:
    """Instruction counts on the M4: full-window inference every 4 frames, and streaming inference
    every `period` frames after the first window (each inference charged the pushes since the last)."""
    F = model.stem.frames
    seconds = (len(stream) - F) * _frame_seconds(model)
    out: dict = {"frames": len(stream), "thresholds_q16": list(thresholds_q16)}
    with tempfile.TemporaryDirectory() as tmp, _m4(model, tmp) as rt:
        p = rt.prog
        rt.set_thresholds(thresholds_q16)
        r = p.alloc(256)
        full = []
        for i in range(F, len(stream) + 1, 4):
            mark = p.heap_mark()
            full.append(p.call("harness_infer", rt.model, p.put(np.ascontiguousarray(stream[i - F:i])), r).instructions)
            p.heap_release(mark)
        full = np.array(full)
        out["full_window"] = {"per_inference_mean": float(full.mean()), "per_inference_max": int(full.max()),
                              "per_second_at_period_4": float(full.mean() / (4 * _frame_seconds(model)))}
        for period in periods:
            infer = np.zeros(len(stream), bool)
            infer[F - 1::period] = True
            push, inf = rt.stream_model_instructions(stream, infer, thresholds_q16)
            idx = np.flatnonzero(infer)
            per = np.array([push[a + 1:b + 1].sum() + inf[b] for a, b in zip(idx[:-1], idx[1:])])
            out[f"stream_period_{period}"] = {
                "per_inference_mean": float(per.mean()), "per_inference_max": int(per.max()),
                "first_window": int(push[:F].sum() + inf[F - 1]),
                "per_second": float((push[F:].sum() + inf[idx[1:]].sum()) / seconds)}
    return out


class _m4:
    """The M4 runtime on the model's tables, generated into a temporary folder."""

    def __init__(self, model: IntModel, tmp: str):
        generate.write(model, Path(tmp))
        self.rt = harness.M4Runtime(Path(tmp))

    def __enter__(self) -> harness.M4Runtime:
        return self.rt

    def __exit__(self, *exc) -> None:
        self.rt.close()


def main(argv: list[str] | None = None) -> int:
    from codegen import __main__ as cli
    from codegen import testing
    from model.student import DEFAULT_CONFIG

    ap = argparse.ArgumentParser(prog="python -m codegen.stream_bench", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, help="a 'valid'-padded checkpoint (default: a random one)")
    ap.add_argument("--frames", type=int, default=400, help="frames after the first window")
    ap.add_argument("--period", type=int, nargs="+", default=[1, 2, 4, 8], help="frames between inferences")
    ap.add_argument("--full-depth", action="store_true", help="never exit early")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    path = args.checkpoint or testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35],
                                                               config=dict(DEFAULT_CONFIG, time_padding="valid"))
    model, _ = cli.load(path)
    rng = np.random.default_rng(args.seed)
    stream = testing.random_features(rng, 1, frames=model.stem.frames + args.frames, bins=model.stem.bins)[0]
    thr = [im.THRESHOLD_NEVER] * (len(model.heads) - 1) if args.full_depth else list(model.exit_thresholds_q16)
    print(json.dumps({"checkpoint": str(path), **measure(model, stream, args.period, thr)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
