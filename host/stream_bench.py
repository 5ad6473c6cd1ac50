"""Instructions of the streaming runtime (bitear_stream_model) against full-window inference
(bitear_model_infer) in unicorn, for a "valid"-padded network: per inference (mean, worst), per
second of audio (network, and with the front end), milliseconds per worst inference.

    python -m host.stream_bench [--cpu m4|m0plus] [--checkpoint PATH | --model-dir DIR]
                                   [--frames 400] [--period 1 2 4 8] [--full-depth]

--cpu m4 (default): the Cortex-M4F build, optimized kernels (DSP stem, carry-save popcount);
--cpu m0plus: the Cortex-M0+ build (the pico's core, ARMv6-M: no DSP instructions, so the plain-C
kernels of BITEAR_KERNELS_OPTIMIZED = 0). The network comes from --model-dir (tables + manifest
written by `python -m codegen CKPT -o DIR`), else --checkpoint, else a random "valid" student of
the shipped shape (codegen.testing): its exits follow random entropies, so its early-exit rows show
the mechanism, not a trained model's exit rates. Rows at full depth and (unless --full-depth) at
the model's exit thresholds; the front end's instructions per hop (host.bench_frontend, same CPU)
are added for "per second of audio". Milliseconds: see host.bench.CPI_ASSUMPTION. Prints a table,
then one JSON object on the last stdout line.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from codegen import __main__ as cli, generate, harness, testing
from codegen import intmodel as im
from codegen.tables import TablesModel
from host import bench_frontend
from host.bench import CPI_ASSUMPTION, instructions_per_second_of_audio, milliseconds
from model.errors import BitearError
from model.facts import HOP, PERIOD_WINDOW, SAMPLE_RATE
from model.m4run import CPUS
from model.student import DEFAULT_CONFIG

FRAME_SECONDS = HOP / SAMPLE_RATE


def measure(gen_dir: Path, stream: np.ndarray, periods: list[int], thresholds_q16: list[int],
            cpu: str = "m4") -> dict:
    """Instruction counts on `cpu` for the model in gen_dir: full-window inference every PERIOD_WINDOW
    frames (the firmware's period),
    and streaming inference every `period` frames after the first window (each inference charged
    the pushes since the last)."""
    F = TablesModel(gen_dir).frames
    seconds = (len(stream) - F) * FRAME_SECONDS
    out: dict = {"frames": len(stream), "thresholds_q16": list(thresholds_q16)}
    rt = harness.M4Runtime(gen_dir, cpu=cpu)
    try:
        p = rt.prog
        rt.set_thresholds(thresholds_q16)
        r = p.alloc(256)
        full = []
        for i in range(F, len(stream) + 1, PERIOD_WINDOW):
            mark = p.heap_mark()
            full.append(p.call("harness_infer", rt.model, p.put(np.ascontiguousarray(stream[i - F:i])), r).instructions)
            p.heap_release(mark)
        full = np.array(full)
        out["full_window"] = {"per_inference_mean": float(full.mean()), "per_inference_max": int(full.max()),
                              "per_second": float(full.mean() / (PERIOD_WINDOW * FRAME_SECONDS))}
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
    finally:
        rt.close()
    return out


def table(runs: dict[str, dict], frontend_per_hop: int, cpu: str) -> list[str]:
    """Markdown rows of every run (name -> measure()): mean and worst instructions per inference,
    milliseconds per worst inference, per second of audio (network; with the front end)."""
    c = CPUS[cpu]
    lines = [f"| {c.name} | per inference, mean | worst | worst, ms at {c.clock_mhz} MHz | network per second of audio "
             "| with the front end |", "|---|---|---|---|---|---|"]
    for name, run in runs.items():
        periods = [(k, int(k.rsplit("_", 1)[1])) for k in run if k.startswith("stream_period_")]
        for key, every, what in [("full_window", PERIOD_WINDOW, "full window"),
                                 *((k, n, "streaming") for k, n in periods)]:
            r = run[key]
            total = instructions_per_second_of_audio(frontend_per_hop, r["per_inference_mean"], every)
            lines.append(f"| {what}, {name}, every {every} hop{'s' * (every > 1)} | {r['per_inference_mean'] / 1e3:,.0f} k "
                         f"| {r['per_inference_max'] / 1e3:,.0f} k | {milliseconds(r['per_inference_max'], cpu):.1f} "
                         f"| {r['per_second'] / 1e6:.2f} M | {total / 1e6:.2f} M |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.stream_bench", description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", choices=list(CPUS), default="m4", help="core to count on (default m4)")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--model-dir", type=Path, help="tables + manifest of a 'valid' model (python -m codegen CKPT -o DIR)")
    src.add_argument("--checkpoint", type=Path, help="a 'valid'-padded checkpoint (default: a random one)")
    ap.add_argument("--frames", type=int, default=400, help="frames after the first window")
    ap.add_argument("--period", type=int, nargs="+", default=[1, 2, 4, 8], help="frames between inferences")
    ap.add_argument("--full-depth", action="store_true", help="only the full-depth rows (never exit early)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        gen_dir, source = args.model_dir, str(args.model_dir)
        if gen_dir is None:
            path = args.checkpoint or testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35],
                                                                       config=dict(DEFAULT_CONFIG, time_padding="valid"))
            gen_dir, source = Path(tmp), str(path)
            generate.write(cli.load(path)[0], gen_dir)
        try:
            m = TablesModel(gen_dir)
        except BitearError as e:
            ap.error(str(e))
        if m.time_padding != "valid":
            ap.error(f"{source}: time_padding is {m.time_padding!r}; streaming needs a 'valid'-padded model")
        rng = np.random.default_rng(args.seed)
        stream = testing.random_features(rng, 1, frames=m.frames + args.frames, bins=m.bins)[0]
        early = m.early_thresholds
        settings = {"full depth": [im.THRESHOLD_NEVER] * len(early)}
        if early and not args.full_depth:
            settings["exit thresholds " + " / ".join(f"{t:.2f}" for t in early)] = m.default_thresholds
        runs = {name: measure(gen_dir, stream, args.period, thr, args.cpu) for name, thr in settings.items()}
    fe = bench_frontend.measure(cpu=args.cpu)
    fe_per_hop = max(v for k, v in fe.items() if k != "stack_bytes")
    c = CPUS[args.cpu]
    print(f"{c.name}, {source}; {args.frames} frames after the first window; random features (seed {args.seed})")
    print("\n".join(table(runs, fe_per_hop, args.cpu)))
    first = {name: run[f"stream_period_{args.period[0]}"]["first_window"] for name, run in runs.items()}
    print(f"first streaming window after init/reset: {', '.join(f'{v / 1e3:,.0f} k ({k})' for k, v in first.items())}")
    print(f"front end: {fe_per_hop:,} instructions per hop (worst audio kind), "
          f"{fe_per_hop / FRAME_SECONDS / 1e6:.2f} M per second of audio, {milliseconds(fe_per_hop, args.cpu):.2f} ms per hop")
    print(f"note: {CPI_ASSUMPTION}")
    print(json.dumps({"cpu": args.cpu, "model": source, "clock_mhz": c.clock_mhz,
                      "frontend_instructions_per_hop": fe_per_hop, "runs": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
