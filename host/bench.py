"""Benchmark of the network on the emulated Cortex-M4 (and M0+): instructions, binary MACs per instruction, sizes.

    .venv/bin/python -m host.bench [--tables DIR] [--clips N] [--stream-keywords N] [--png PATH]   (make bench)

Everything is counted deterministically by model/m4run.py (unicorn, block-hook instruction count)
on the runtime built with the firmware's flags (-O2, Cortex-M4F), using the generated tables in
firmware/lib/bitear (the shipped model) unless --tables says otherwise:

  instructions_full       one full-depth bitear_model_infer (mean over a few windows)
  instructions_avg_exit   mean of bitear_model_infer at the model's default exit thresholds over a
                          fixed set of clips (`clips_source` says which): N clips evenly spaced in
                          the sorted file list (so every class folder contributes) of
                          data_dir()/speech_commands_v2_dev, else of speech_commands_v1_sample,
                          else generated audio (espeak-ng keywords and words, noise); features by
                          the C front end (model.frontend, the same bits as on the board)
  generated_audio         true when the shared data are absent: clips and stream are generated (also
                          said on stderr), so instructions_avg_exit and stream_* differ from real audio
  instructions_per_layer  stem, every block, every exit head (+ entropy), optimized kernels
  binary_macs_per_instruction  binary MACs / instructions of the binary conv layers, optimized
                          and reference kernels (BITEAR_REFERENCE_KERNELS)
  frontend_instructions_per_hop  host.bench_frontend (max over its audio kinds); _by_stage: one hop per stage
                          on the Cortex-M4 (DSP path and plain C) and the Cortex-M0+
  cortex_m0plus           the same model on the Cortex-M0+ (the pico's core: ARMv6-M, so the plain-C
                          kernels; built and counted the same way, cpu "m0plus"): instructions_full,
                          instructions_avg_exit (the same clips), frontend_instructions_per_hop,
                          instructions_per_second_of_audio_full_depth / _avg_exit (front end every
                          hop + one full-window inference every infer_every_hops = APP_INFER_EVERY
                          hops), milliseconds_full at clock_mhz (133; one cycle per instruction
                          assumed, CPI_ASSUMPTION)
  instructions_per_second_of_audio, instructions_worst_inference, instructions_per_inference_stream(_max),
                          stream_*: the firmware itself (evaluation build, QEMU -icount) on a stream of 60
                          keywords + 20 other words in noise (validation speakers where the shared data
                          exist, else generated speech) at its default period (2 hops for a streamable
                          model, else 4): every hop's front end + network per second of audio, the
                          dearest hop (front end included), per inference; plot instructions_over_stream.png
                          beside --png (each inference period's cost per second of audio, by exit)
  weights_bytes           bytes of the weights (codegen manifest: the student's weight bits)
  model_tables_flash_bytes  the compiled tables object (arm-none-eabi-size)
  flash_bytes, ram_bytes  arm-none-eabi-size of the qemu_m4 application ELF (.pio/build, or DIR/build for
                          --tables DIR: `make bench MODEL_DIR=DIR` builds it) (`size_source` = "firmware"), else of a minimal image of front end +
                          feature window + model built here (`size_source` = "model image");
                          ram_bytes = data + bss + the stack inference uses (measured)

Progress goes to stderr; the last stdout line is one JSON object. A PNG of instructions per layer
(optimized and reference) is written to --png (default .cache/bitear/bench/instructions_per_layer.png).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from codegen import harness
from codegen.files import SOURCE_NAME
from codegen.tables import TablesModel, read_model
from codegen.testing import random_features
from host.bench_frontend import BUDGET_M4, measure, print_stages, stage_table
from host.emulator import build_dir
from host.evaluate import INSTRUCTIONS_PER_TICK, model_tables_dir, use_model_dir
from host.stream_truth import generated_stream, real_stream
from host.streaming_quality import detector_defaults, run_stream, student_costs
from model.audio import fit_to_one_second, load_clip
from model.errors import BitearError
from model.facts import CLIP_SAMPLES, HOP, KEYWORDS, OTHER_WORDS, PERIOD_WINDOW, SAMPLE_RATE, default_period
from model.frontend import compute_features
from model.m4run import CPUS
from model.paths import REPO_ROOT, cache_dir, data_dir
from model.toolchain import ARM_CFLAGS, ARM_LDFLAGS, CORTEX_M4, IMAGE_SOURCES, arm_sections, compile_arm

GENERATED_WORDS = [*KEYWORDS, *OTHER_WORDS[:8]]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- clips -------------------------------------------------------------------------------------------

def generated_audio() -> bool:
    """True when the shared data (speech_commands_v2_dev) are absent: the clips and the stream are then
    generated, and the figures that depend on audio differ from those of docs/results.md."""
    root = data_dir()
    return root is None or not (root / "speech_commands_v2_dev").is_dir()


def bench_clips(n: int) -> tuple[np.ndarray, str]:
    """(N, 16000) int16 clips and where they come from."""
    root = data_dir()
    for name in ("speech_commands_v2_dev", "speech_commands_v1_sample"):
        folder = root / name if root is not None else None
        files = sorted(folder.rglob("*.wav")) if folder is not None and folder.is_dir() else []
        if files:
            step = max(1, len(files) // n)
            picked = files[::step][:n]
            return np.stack([fit_to_one_second(load_clip(f)) for f in picked]), f"real: {name} ({len(picked)} clips)"
    return generated_clips(n)


def generated_clips(n: int) -> tuple[np.ndarray, str]:
    rng = np.random.default_rng(0)
    clips, what = [], "generated"
    try:
        from model.synth import synthesize
        for word in GENERATED_WORDS:
            for speed in (0.9, 1.2):
                clips.append(synthesize(word, speed=speed))
        what = f"generated: espeak-ng words and noise"
    except (BitearError, ImportError, OSError) as e:
        log(f"bench: no TTS ({e}); using tones and noise")
        t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
        for f0 in (150, 220, 330, 440):
            env = np.exp(-((t - 0.5) / 0.15) ** 2)
            clips.append(np.round(8000 * env * np.sin(2 * np.pi * f0 * t * (1 + 0.3 * t))).astype(np.int16))
        what = "generated: chirps and noise"
    while len(clips) < n:
        clips.append(np.clip(rng.normal(0, rng.choice([30, 300, 3000]), CLIP_SAMPLES), -32768, 32767).astype(np.int16))
    return np.stack(clips[:n]), f"{what} ({min(n, len(clips))} clips)"


def clip_features(clips: np.ndarray) -> np.ndarray:
    return compute_features(clips)


# ---- per second of audio, milliseconds ---------------------------------------------------------------------

def instructions_per_second_of_audio(frontend_per_hop: float, per_inference: float,
                                     infer_every_hops: int = PERIOD_WINDOW) -> float:
    """What a board executes per second of audio: the front end on every hop plus one inference every
    `infer_every_hops` hops (the firmware's loop; default its APP_INFER_EVERY). For a streaming model,
    per_inference is the cost of an inference plus the frames pushed since the previous one."""
    return (frontend_per_hop + per_inference / infer_every_hops) * SAMPLE_RATE / HOP


CPI_ASSUMPTION = ("milliseconds assume one cycle per instruction (not measured): loads, taken branches and "
                  "flash wait states make real cycles higher on both cores; the Cortex-M0+ (2-stage pipeline, "
                  "single-cycle multiplier on the RP2040) is expected closer to it than the Cortex-M4")


def milliseconds(instructions: float, cpu: str) -> float:
    """Time of `instructions` on `cpu` (a key of model.m4run.CPUS) at its board's clock (Cortex-M4: 64 MHz,
    nano33ble; Cortex-M0+: 133 MHz, pico), at one cycle per instruction (CPI_ASSUMPTION)."""
    return instructions / (CPUS[cpu].clock_mhz * 1e3)


# ---- counting ------------------------------------------------------------------------------------------

def layer_counts(rt, tm: TablesModel, x: np.ndarray) -> dict[str, int]:
    """Instructions of each layer (kernels called one by one on the model's arena), one window."""
    p = rt.prog
    mark = p.heap_mark()
    xa = p.put(np.ascontiguousarray(x, np.int8))
    out = {"stem": p.call("harness_stem", rt.model, xa).instructions}
    for i in range(tm.blocks):
        out[f"block{i}"] = p.call("harness_block", rt.model, i).instructions
        if tm.block_head[i] >= 0:
            out[f"exit{tm.block_head[i]}"] = p.call("harness_head", rt.model, i).instructions
    p.heap_release(mark)
    return out


def infer_count(rt, x: np.ndarray) -> tuple[int, int, int]:
    """(instructions, exit index, stack bytes) of one bitear_model_infer."""
    p = rt.prog
    mark = p.heap_mark()
    xa = p.put(np.ascontiguousarray(x, np.int8))
    res = p.alloc(256)
    r = p.call("harness_infer", rt.model, xa, res)
    if r.ret != 0:
        raise BitearError(f"bitear_model_infer returned {r.ret} on the M4")
    exit_index = int(p.get(res + 2, np.int16, 1)[0])  # bitear_result_t: label, exit_index, ...
    stack = p.last_stack_bytes
    p.heap_release(mark)
    return r.instructions, exit_index, stack


def cortex_m0plus(tables: Path, windows: np.ndarray, clip_feats: np.ndarray, clips_source: str) -> dict:
    """The model's cost on the Cortex-M0+ (the pico's core; model.m4run cpu "m0plus": ARMv6-M, so the
    plain-C kernels): one full-depth bitear_model_infer (mean over `windows`), the mean at the default
    exit thresholds over `clip_feats` (the clips of the M4's instructions_avg_exit), the front end per
    hop, instructions per second of audio at the firmware's inference period (front end every hop +
    one full-window inference every PERIOD_WINDOW hops) for both, and milliseconds at the pico's clock."""
    tm = TablesModel(tables)
    with harness.open_runtime("m0plus", tables) as rt:
        rt.set_thresholds([-1] * (tm.exits - 1))
        full = int(round(np.mean([infer_count(rt, w)[0] for w in windows])))
        rt.set_thresholds(tm.default_thresholds)
        avg = int(round(np.mean([infer_count(rt, f)[0] for f in clip_feats])))
    fe = max(v for k, v in measure(cpu="m0plus").items() if k != "stack_bytes")
    log(f"bench: Cortex-M0+ full depth {full:,} instructions, average with early exit {avg:,}, front end {fe:,} per hop")
    return {
        "instructions_full": full,
        "instructions_avg_exit": avg,
        "frontend_instructions_per_hop": fe,
        "infer_every_hops": PERIOD_WINDOW,
        "instructions_per_second_of_audio_full_depth": int(round(instructions_per_second_of_audio(fe, full))),
        "instructions_per_second_of_audio_avg_exit": int(round(instructions_per_second_of_audio(fe, avg))),
        "clock_mhz": CPUS["m0plus"].clock_mhz,
        "milliseconds_full": round(milliseconds(full, "m0plus"), 2),
        "milliseconds_frontend_per_hop": round(milliseconds(fe, "m0plus"), 3),
        "note": (f"plain-C kernels (no DSP instructions on ARMv6-M), full-window bitear_model_infer every "
                 f"{PERIOD_WINDOW} hops; avg_exit: default exit thresholds on {clips_source}, the clips of the "
                 f"M4's instructions_avg_exit; {CPI_ASSUMPTION}"),
    }


# ---- sizes ----------------------------------------------------------------------------------------------

IMAGE_MAIN = r"""/* bench image: front end + feature window + model, as the firmware will hold them. */
#include <string.h>
#include "bitear_frontend.h"
#include "bitear_model.h"
static bitear_frontend_t fe;
static bitear_model_t model;
static int8_t window[BITEAR_MODEL_FRAMES * BITEAR_MODEL_BINS];
static int16_t hop[BITEAR_FRONTEND_HOP];
volatile int sink;
int main(void)
{
    bitear_result_t r;
    bitear_frontend_init(&fe);
    bitear_model_init(&model);
    for (;;) {
        memmove(window, window + BITEAR_MODEL_BINS, sizeof(window) - BITEAR_MODEL_BINS);
        bitear_frontend_push(&fe, hop, window + sizeof(window) - BITEAR_MODEL_BINS);
        bitear_model_infer(&model, window, &r);
        sink = r.label;
    }
}
"""


def _size(elf: Path) -> tuple[int, int]:
    sec = arm_sections(elf)
    flash = sum(v for k, v in sec.items() if k in (".text", ".rodata", ".data", ".ARM.exidx", ".ARM.extab", ".isr_vector"))
    ram = sec.get(".data", 0) + sec.get(".bss", 0)
    return flash, ram


def image_sizes(tables: Path) -> tuple[int, int]:
    """(flash, static RAM) of front end + window + model linked with --gc-sections."""
    src = harness.assemble(tables)
    with tempfile.TemporaryDirectory() as tmp:
        main = Path(tmp) / "main.c"
        main.write_text(IMAGE_MAIN)
        srcs = [main, *(src / s for s in IMAGE_SOURCES), src / SOURCE_NAME]
        elf = compile_arm(srcs, Path(tmp) / "image.elf", [*CORTEX_M4, *ARM_CFLAGS], [src],
                          [*ARM_LDFLAGS, "--specs=nosys.specs", "-Wl,--gc-sections"])
        return _size(elf)


def firmware_elf() -> Path:
    """The qemu_m4 application of the model being benched: .pio/build, or DIR/build for --tables DIR."""
    return build_dir() / "qemu_m4" / "firmware.elf"


def firmware_sizes() -> tuple[int, int] | None:
    elf = firmware_elf()
    if not elf.is_file():
        return None
    syms = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True).stdout
    if "app_init" not in syms or "bitear_model_stem" not in syms:
        return None
    return _size(elf)


# ---- the firmware on a stream ---------------------------------------------------------------------------

def stream_costs(tables: Path, png: Path, keywords: int = 60, unknown: int = 20) -> dict:
    """The firmware itself (evaluation build qemu_m4_eval, QEMU -icount: front end, bitear_stream with the
    runtime the tables select, at the firmware's default period) on a stream of keywords and other words
    in noise: real clips of the validation speakers where the shared data exist, else generated speech.
    Instructions per second of audio (every hop: front end + network), per inference (mean, from the
    inferring hop minus the hop before) and the dearest hop (its front end included; for a streaming
    model the worst catch-up). Writes a plot of the cost of every inference over the stream, by exit."""
    model = read_model(model_tables_dir())
    period = default_period(model.streamable)
    rng = np.random.default_rng(0)
    root = data_dir()
    if root is not None and (root / "speech_commands_v2_dev").is_dir():
        stream = real_stream(root, keywords, unknown, rng)
    else:
        stream = generated_stream(keywords, unknown, rng, 0)
    log(f"bench: the evaluation build on a {len(stream.audio) / SAMPLE_RATE:.0f} s stream ({stream.source}), "
        f"an inference every {period} hops")
    run = run_stream(stream, period, detector_defaults(period))
    costs = student_costs(run)
    per_inference = [(r.cost - r.cost_before) * INSTRUCTIONS_PER_TICK for r in run.results]
    # each period's hops: the inferring one and period - 1 like the one before (exact at period 2)
    per_period = [(r.cost + (period - 1) * r.cost_before) * INSTRUCTIONS_PER_TICK for r in run.results]
    plot_stream([r.hop for r in run.results], per_period, [r.exit_index for r in run.results], period,
                png.with_name("instructions_over_stream.png"),
                f"{'streaming' if model.streamable else 'window'} runtime, an inference every {period} hops: "
                f"{costs['instructions_per_second_of_audio'] / 1e6:.2f} M instructions per second of audio")
    return {
        "instructions_per_second_of_audio": int(round(costs["instructions_per_second_of_audio"])),
        "instructions_worst_inference": int(costs["instructions_worst_hop"]),
        "instructions_per_inference_stream": int(round(costs["avg_instructions_inference"])),
        "instructions_per_inference_stream_max": int(max(per_inference)),
        "stream_exit_fractions": [round(f, 4) for f in costs["exits"]],
        "stream_infer_every_hops": period,
        "stream_runtime": "streaming" if model.streamable else "window",
        "stream_source": f"{stream.source}: {len(stream.keywords)} keywords, {stream.distractors} other words, "
                         f"{len(stream.audio) / SAMPLE_RATE:.0f} s",
        "stream_plot": str(png.with_name("instructions_over_stream.png")),
    }


# ---- plot -----------------------------------------------------------------------------------------------

def plot_stream(hops: list[int], instructions: list[int], exits: list[int], period: int, path: Path,
                title: str) -> None:
    """Instructions per second of audio over the stream (each inference period's front end + network /
    its duration), coloured by the exit its inference took."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(hops) * HOP / SAMPLE_RATE
    per_s = np.asarray(instructions) / (period * HOP / SAMPLE_RATE) / 1e6
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for e in sorted(set(exits)):
        sel = np.asarray(exits) == e
        ax.scatter(t[sel], per_s[sel], s=4, label=f"exit {e}")
    ax.set_xlabel("stream time (s)")
    ax.set_ylabel("M instructions / s of audio")
    ax.set_title(title, fontsize=10)
    ax.legend(markerscale=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot(per_layer: dict[str, int], per_layer_ref: dict[str, int], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(per_layer)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(x - 0.2, [per_layer_ref[n] / 1e3 for n in names], 0.4, label="reference kernels", color="#bbbbbb")
    ax.bar(x + 0.2, [per_layer[n] / 1e3 for n in names], 0.4, label="optimized (Cortex-M4)", color="#3070b0")
    for i, n in enumerate(names):
        ax.text(i + 0.2, per_layer[n] / 1e3, f"{per_layer[n] / 1e3:.0f}k", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, names)
    ax.set_ylabel("instructions (thousands)")
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- main -----------------------------------------------------------------------------------------------

def run(tables: Path, n_clips: int, png: Path, stream_keywords: int = 60) -> dict:
    if Path(tables).resolve() != model_tables_dir().resolve():
        use_model_dir(tables)   # the firmware builds (sizes, the stream) use these tables too
    tm = TablesModel(tables)
    n_early = tm.exits - 1
    generated = generated_audio()
    if generated:
        log("bench: no shared data (BITEAR_DATA or ../shared/data with speech_commands_v2_dev/): the clips and the "
            "stream are GENERATED audio, so the early-exit and stream figures are not those of docs/results.md")
    windows = np.stack([np.asarray(w) for w in _windows(tm)])
    log(f"bench: model {tm.sha[:12]} ({tm.description or 'no description'})")
    with harness.open_runtime("m4", tables) as opt, harness.open_runtime("m4-ref", tables) as ref:
        for rt in (opt, ref):
            rt.set_thresholds([-1] * n_early)
        per_layer = _mean_dicts([layer_counts(opt, tm, w) for w in windows])
        per_layer_ref = layer_counts(ref, tm, windows[0])
        full = [infer_count(opt, w) for w in windows]
        full_ref = infer_count(ref, windows[0])
        log(f"bench: full depth {np.mean([f[0] for f in full]):,.0f} instructions (reference kernels {full_ref[0]:,})")
        clips, source = bench_clips(n_clips)
        feats = clip_features(clips)
        opt.set_thresholds(tm.default_thresholds)
        runs = [infer_count(opt, f) for f in feats]
        stack = max([r[2] for r in runs] + [f[2] for f in full])
    counts = np.array([r[0] for r in runs])
    exits = np.bincount([r[1] for r in runs], minlength=tm.exits)
    log(f"bench: {source}: mean {counts.mean():,.0f} instructions, exits {exits.tolist()}")
    bin_opt = sum(per_layer[f"block{i}"] for i in range(tm.blocks))
    bin_ref = sum(per_layer_ref[f"block{i}"] for i in range(tm.blocks))
    macs = sum(tm.block_macs)
    fw = firmware_sizes()
    if fw is not None:
        (flash, ram_static), size_source = fw, f"firmware: {firmware_elf()}"
    else:
        (flash, ram_static), size_source = image_sizes(tables), "model image: front end + 49x40 window + model (no firmware ELF with the model yet)"
    weights_bytes, tables_flash = table_bytes(tables)
    m0plus = cortex_m0plus(tables, windows, feats, source)
    stream = stream_costs(tables, png, stream_keywords, -(-stream_keywords // 3))
    plot(per_layer, per_layer_ref, png, f"bitear on Cortex-M4 (emulated): {sum(per_layer.values()):,} instructions full depth")
    fe = measure(dsp=True)
    fe_per_hop = max(v for k, v in fe.items() if k != "stack_bytes")
    fe_stages = stage_table()
    print_stages(fe_stages)
    full_mean = int(round(np.mean([f[0] for f in full])))
    bmac = round(macs / bin_opt, 3)
    budgets = {  # DESIGN.md section 4: bar (goal)
        "instructions_full <= 2.0M (goal 1.0M)": full_mean <= 2_000_000,
        "instructions_avg_exit <= 1.0M (goal 0.5M)": int(counts.mean()) <= 1_000_000,
        "binary_macs_per_instruction >= 2.0 (goal 3.0)": bmac >= 2.0,
        f"frontend_instructions_per_hop <= {BUDGET_M4:,}": fe_per_hop <= BUDGET_M4,
        "model tables <= 32 KB (goal 16 KB)": tables_flash <= 32 * 1024,
        "instructions_per_second_of_audio <= 2.5M (goal 1.0M)": stream["instructions_per_second_of_audio"] <= 2_500_000,
        "instructions_worst_inference <= 1.0M": stream["instructions_worst_inference"] <= 1_000_000,
    }
    return {
        "instructions_full": full_mean,
        "instructions_full_reference_kernels": int(full_ref[0]),
        "instructions_avg_exit": int(round(counts.mean())),
        "clips_source": source,
        "generated_audio": generated,
        "exit_fractions": [round(float(e) / len(runs), 4) for e in exits],
        "exit_thresholds_q16": tm.default_thresholds,
        "instructions_per_layer": per_layer,
        "instructions_per_layer_reference": per_layer_ref,
        "frontend_instructions_per_hop": int(fe_per_hop),
        "frontend_instructions_per_hop_by_stage": fe_stages,
        "binary_macs_per_instruction": {"optimized": bmac, "reference": round(macs / bin_ref, 3)},
        "binary_macs_full": macs,
        "weights_bytes": weights_bytes,
        "model_tables_flash_bytes": tables_flash,
        "flash_bytes": flash,
        "ram_bytes": ram_static + stack,
        "ram_static_bytes": ram_static,
        "stack_bytes_inference": stack,
        "size_source": size_source,
        "model_sha256": tm.sha,
        "model_description": tm.description,
        **stream,
        "budgets_met": budgets,
        "cortex_m0plus": m0plus,
        "plot": str(png),
    }


def _windows(tm: TablesModel) -> list[np.ndarray]:
    return list(random_features(np.random.default_rng(7), 4, tm.frames, tm.bins))


def _mean_dicts(ds: list[dict[str, int]]) -> dict[str, int]:
    return {k: int(round(np.mean([d[k] for d in ds]))) for k in ds[0]}


def table_bytes(tables: Path) -> tuple[int, int]:
    """(weights bytes, flash bytes of all the model's tables): weights from the codegen manifest,
    flash from the compiled tables object (arm-none-eabi-size)."""
    weights = TablesModel(tables).weights_bytes
    src = harness.assemble(tables)
    with tempfile.TemporaryDirectory() as tmp:
        obj = compile_arm([src / SOURCE_NAME], Path(tmp) / "tables.o", [*CORTEX_M4, "-O2", "-std=c99", "-c"], [src])
        sections = arm_sections(obj)
    flash = sum(v for k, v in sections.items() if k.startswith((".rodata", ".data", ".text")))
    return weights, flash


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--tables", help="folder with bitear_model_tables.{h,c} (python -m codegen CKPT -o DIR); "
                                         "default: $BITEAR_MODEL_DIR (make bench MODEL_DIR=DIR), else the committed ones")
    parser.add_argument("--clips", type=int, default=100, help="clips for the average with early exit")
    parser.add_argument("--stream-keywords", type=int, default=60,
                        help="keywords in the stream the firmware is counted on (plus a third as many other words)")
    parser.add_argument("--png", default=str(cache_dir("bench") / "instructions_per_layer.png"))
    args = parser.parse_args(argv)
    try:
        if args.clips < 1 or args.stream_keywords < 1:
            raise BitearError("--clips and --stream-keywords must be at least 1")
        from host.evaluate import model_tables_dir
        tables = Path(args.tables) if args.tables else model_tables_dir()
        result = run(tables, args.clips, Path(args.png), args.stream_keywords)
    except BitearError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
