"""Accuracy of the firmware itself: every clip of a Speech Commands folder through bitear's C code
on the (emulated) board, compared with the labels and with the Python integer reference.

    python -m host.evaluate DATA_DIR (--emulator | --port P) [--json] [--limit N]
           [--threshold T | --full-depth] [--serial] [--model-dir DIR] [--board feather_f405]

Two paths into the same firmware code (reported as `path` in the JSON):

- "semihosting" (`--emulator`, the default there): the evaluation build (PlatformIO env
  qemu_m4_eval, firmware/eval/eval_main.c) runs bitear_stream — front end, 49-frame window,
  early-exit network — on the emulated Cortex-M4 and reads the clips from a host file by Arm
  semihosting, writing one result record per clip (label, exit, entropy, logits, scores, ticks).
  One QEMU run for the whole folder: 2,942 clips take seconds, where the emulated UART
  (~30-45 kB/s) would need about an hour. `--board feather_f405`: the same on the STM32F405 in
  QEMU netduinoplus2 (env feather_f405_eval; host.emulator.BOARDS).
- "serial" (`--port P`, or `--emulator --serial`): the application firmware over the binary
  protocol (host/protocol.py). Per clip: RESET the stream, send N-1 hops of zeros (N = the
  board's infer_every_hops) then the clip's 50 hops, so an inference lands exactly on the clip's
  last hop (the stream's first inference runs on hop 49, then every N); its RESULT is the answer.

Either way the window the network sees is bit for bit `model.frontend.compute_features(clip)`
(the zero hops leave the front end's history at zero, as a fresh init does), so
`agreement_with_python` is the fraction of clips where the board's label, exit, entropy and
scores (and logits, on the semihosting path) equal what `codegen.reference` computes on those
features with the same exit thresholds. The reference runs on an IntModel read back from the
generated tables the firmware was compiled from and their codegen manifest (codegen.tables.read_model), so no
checkpoint is needed.

With --json the last stdout line is one JSON object: accuracy, n, agreement_with_python, exits
(index, fraction, accuracy), path, per_class_accuracy, thresholds_q16, costs, model_sha256, ...
Errors a user can fix (no data, no board, QEMU missing) are one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from codegen import reference
from codegen.intmodel import THRESHOLD_NEVER, threshold_q16
from codegen.tables import TablesModel, read_model
from host.board import BoardClient
from host.detector import DetectorParams
from host.emulator import DEFAULT_BOARD, Emulator, EmulatorError, build_firmware, emulated_board
from host.protocol import COST_UNITS, Result
from model.datasets import LABELS, is_test_layout, load_speech_commands
from model.errors import BitearError, run_cli
from model.evaluate import print_exits, print_per_class
from model.facts import CLIP_SAMPLES, HOP
from model.facts import QEMU_INSTRUCTIONS_PER_TICK as INSTRUCTIONS_PER_TICK
from model.frontend import compute_features
from model.paths import PLUGIN_DIR

TABLES_DIR = PLUGIN_DIR
CLIP_HOPS = CLIP_SAMPLES // HOP
THRESHOLD_DEFAULT = 0x7FFFFFFF      # eval build: keep the model's default exit thresholds
MODE_CLIPS, MODE_STREAM = 1, 2
NS_PER_SECOND = 1e9                 # QEMU -icount shift=0: instructions per second of the tick clock
EVAL_VERSION = 2                   # eval_in.bin / eval_out.bin format (firmware/eval/eval_main.c)


# ---- the network as the firmware was compiled: IntModel from the generated tables -------------------

def model_tables_dir() -> Path:
    """Where the firmware's model tables come from: $BITEAR_MODEL_DIR (MODEL_DIR=DIR of the
    Makefile, `use_model_dir`), else the committed ones."""
    chosen = os.environ.get("BITEAR_MODEL_DIR", "").strip()
    return Path(chosen) if chosen else TABLES_DIR


def use_model_dir(folder: Path) -> None:
    """Build and read the firmware with the model tables in `folder` (written by `python -m codegen
    CKPT -o DIR`) for the rest of this process, as `make ... MODEL_DIR=DIR` does: the build goes to
    DIR/build (scripts/pio_model_dir.py). A folder without tables: BitearError."""
    folder = Path(folder).resolve()
    TablesModel(folder)
    os.environ["BITEAR_MODEL_DIR"] = str(folder)
    os.environ["PLATFORMIO_BUILD_DIR"] = str(folder / "build")


def thresholds_for(model, threshold: float | None, full_depth: bool) -> list[int]:
    """Exit thresholds in Q16 per early exit: the model's defaults, one value for all, or never (-1)."""
    early = len(model.heads) - 1
    if full_depth:
        return [THRESHOLD_NEVER] * early
    if threshold is not None:
        return [threshold_q16(threshold)] * early
    return list(model.exit_thresholds_q16)


# ---- what the board answered ----------------------------------------------------------------------

@dataclass
class BoardResult:
    """One inference as the board reported it."""
    hop: int
    label: int
    exit_index: int
    entropy_q16: int
    scores_q15: tuple[int, ...]
    logits: tuple[int, ...] | None = None   # semihosting path only
    cost: int = 0                            # ticks (semihosting) or RESULT.cost (serial)
    cost_before: int = 0                     # semihosting: ticks of the hop before (front end only)


@dataclass
class EvalRun:
    """Everything the evaluation build wrote: results, detections (stream mode), end counters."""
    results: list[BoardResult] = field(default_factory=list)
    detections: list[tuple[int, int, int]] = field(default_factory=list)   # (hop, label, score_q15)
    hops: int = 0
    inferences: int = 0
    stack_used: int = 0
    total_ticks: int = 0        # all hops pushed: front end + network
    max_hop_ticks: int = 0      # the dearest hop
    tick_hz: int = 0
    wall_s: float = 0.0


def build_eval_firmware(env: str | None = None) -> Path:
    """`pio run -e <env>` (None: the default board's evaluation build, qemu_m4_eval; incremental); the ELF."""
    try:
        return build_firmware(env or emulated_board().eval_env)
    except EmulatorError as e:
        raise BitearError(str(e)) from None


def _parse_eval_output(data: bytes) -> EvalRun:
    if len(data) < 16 or data[:4] != b"BEVO":
        raise BitearError("the evaluation build wrote no valid output header")
    classes, tick_hz = data[6], struct.unpack_from("<I", data, 8)[0]
    run = EvalRun(tick_hz=tick_hz)
    pos, ended = 16, False
    while pos < len(data):
        kind = data[pos:pos + 1]
        if kind == b"R":
            label, exit_index, n = data[pos + 1], data[pos + 2], data[pos + 3]
            hop, entropy, ticks, before = struct.unpack_from("<IIII", data, pos + 4)
            logits = struct.unpack_from(f"<{n}i", data, pos + 20)
            scores = struct.unpack_from(f"<{n}H", data, pos + 20 + 4 * n)
            run.results.append(BoardResult(hop, label, exit_index, entropy, scores, logits, ticks, before))
            pos += 20 + 6 * n
        elif kind == b"D":
            label, score, hop = struct.unpack_from("<BHI", data, pos + 1)
            run.detections.append((hop, label, score))
            pos += 8
        elif kind == b"E":
            run.hops, run.inferences, run.stack_used, run.total_ticks, run.max_hop_ticks = \
                struct.unpack_from("<IIIII", data, pos + 4)
            pos += 24
            ended = True
        else:
            raise BitearError(f"the evaluation build wrote an unknown record {kind!r} at byte {pos}")
    if not ended:
        raise BitearError("the evaluation build's output ends before its end record (QEMU stopped early?)")
    if classes and any(len(r.scores_q15) != classes for r in run.results):
        raise BitearError("the evaluation build wrote results of the wrong size")
    return run


EVAL_EXIT_CODES = {2: "could not open eval_in.bin/eval_out.bin (semihosting off?)", 3: "bad input header or parameters",
                   4: "input file ended early", 5: "bitear_stream/detector returned an error", 6: "writing the output failed",
                   7: "inference not aligned with the clip's last hop", 134: "the firmware faulted"}


def run_eval_build(mode: int, audio: np.ndarray, count: int, *, infer_every: int = 1,
                   threshold_q16: int = THRESHOLD_DEFAULT, detector=None, elf: Path | None = None,
                   timeout_s: float | None = None, progress: Callable[[int], None] | None = None,
                   board: str | None = None) -> EvalRun:
    """Run the evaluation build once in QEMU on int16 audio (clips: (count, 16000); stream: count
    hops of 320 samples). progress(results so far) is called while it runs. board: which emulated
    board (host.emulator.BOARDS; None: the default) builds and runs it."""
    emulated = emulated_board(board)

    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        raise BitearError("qemu-system-arm not found: install the Debian package qemu-system-arm (`make setup` does)")
    elf = elf or build_eval_firmware(emulated.eval_env)
    det = detector or DetectorParams()
    header = b"BEVI" + struct.pack("<HHIHHiHHB3x", EVAL_VERSION, mode, count, infer_every, det.window_ms, threshold_q16,
                                   det.threshold_q15, det.suppression_ms, det.min_count)
    record_bytes = 20 + 6 * 12
    timeout_s = timeout_s or 60.0 + 0.05 * count * (1 if mode == MODE_CLIPS else 1 / CLIP_HOPS)
    with tempfile.TemporaryDirectory(prefix="bitear-eval-") as tmp:
        (Path(tmp) / "eval_in.bin").write_bytes(header + np.ascontiguousarray(audio, "<i2").tobytes())
        out_path = Path(tmp) / "eval_out.bin"
        cmd = [qemu, *emulated.qemu_args(), *emulated.serial_args("file:uart.log"),
               "-icount", "shift=0,align=off,sleep=off", "-kernel", str(elf)]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            while proc.poll() is None:
                if time.monotonic() - t0 > timeout_s:
                    raise BitearError(f"the evaluation build did not finish within {timeout_s:.0f} s")
                if progress is not None and out_path.exists():
                    progress(max(0, (out_path.stat().st_size - 16) // record_bytes))
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        wall = time.monotonic() - t0
        if proc.returncode != 0:
            uart = (Path(tmp) / "uart.log").read_text(errors="replace").strip() if (Path(tmp) / "uart.log").exists() else ""
            why = EVAL_EXIT_CODES.get(proc.returncode, "unexpected exit")
            raise BitearError(f"the evaluation build failed with exit code {proc.returncode}: {why}"
                              f"{'; board says: ' + uart[-300:] if uart else ''}"
                              f"{'; QEMU: ' + proc.stderr.read().decode(errors='replace')[-300:] if proc.stderr else ''}")
        proc.stderr.close()
        run = _parse_eval_output(out_path.read_bytes())
    run.wall_s = wall
    return run


def run_clips_semihosting(clips: np.ndarray, threshold_q16: int = THRESHOLD_DEFAULT,
                          progress: Callable[[int], None] | None = None, elf: Path | None = None,
                          board: str | None = None) -> tuple[list[BoardResult], EvalRun]:
    """Every (16000,) int16 clip through the evaluation build: one result per clip."""
    clips = np.ascontiguousarray(clips, np.int16).reshape(-1, CLIP_SAMPLES)
    run = run_eval_build(MODE_CLIPS, clips, len(clips), threshold_q16=threshold_q16, progress=progress, elf=elf,
                         board=board)
    if len(run.results) != len(clips):
        raise BitearError(f"the evaluation build answered {len(run.results)} of {len(clips)} clips")
    return run.results, run


def run_clips_serial(board, clips: np.ndarray, threshold_q16: int | None = None,
                     progress: Callable[[int], None] | None = None, timeout_s: float = 30.0,
                     align_hops: int = 1) -> list[BoardResult]:
    """Every clip through a board speaking the protocol (host.board.BoardClient, after HELLO):
    RESET stream, L - 1 zero hops + the clip, the RESULT of hop L - 1 + 50, with L = lcm(N, A)
    (N: the board's period; A: the model's stream_align_frames, so a streaming board's result
    there is the clip's full-window one)."""
    every = math.lcm(board.ready.infer_every_hops, align_hops)
    lead = np.zeros((every - 1) * HOP, np.int16)
    target = every - 1 + CLIP_HOPS
    out = []
    for i, clip in enumerate(np.asarray(clips, np.int16).reshape(-1, CLIP_SAMPLES)):
        board.reset(stats=False, stream=True)
        if threshold_q16 is not None:         # a stream reset may restore the default thresholds
            board.set_threshold(threshold_q16)
        board.send_audio(np.concatenate([lead, clip]))
        deadline = time.monotonic() + timeout_s
        while True:
            msg = board.read(timeout=max(0.0, deadline - time.monotonic()))
            if msg is None:
                raise BitearError(f"no RESULT for clip {i} (hop {target}) within {timeout_s:g} s")
            if isinstance(msg, Result) and msg.hop == target:
                break
        out.append(BoardResult(msg.hop, msg.label, msg.exit_index, msg.entropy_q16, tuple(msg.scores_q15), None, msg.cost))
        if progress is not None:
            progress(i + 1)
    return out


# ---- comparing ------------------------------------------------------------------------------------

def agreement(board: Sequence[BoardResult], ref) -> np.ndarray:
    """Per clip: True when the board's label, exit, entropy and scores (and logits, if it sent them)
    equal the reference's (codegen.reference.Result)."""
    same = []
    for i, r in enumerate(board):
        ok = (r.label == ref.label[i] and r.exit_index == ref.exit_index[i] and r.entropy_q16 == ref.entropy_q16[i]
              and tuple(int(v) for v in ref.scores_q15[i]) == tuple(r.scores_q15))
        if r.logits is not None:
            ok = ok and tuple(int(v) for v in ref.logits[i]) == tuple(r.logits)
        same.append(bool(ok))
    return np.array(same, bool)


def summarize(labels: np.ndarray, board: Sequence[BoardResult], agree: np.ndarray, exits: int,
              label_names: Sequence[str]) -> dict:
    """accuracy, n, agreement_with_python, exits (index, fraction, accuracy), per_class_accuracy."""
    pred = np.array([r.label for r in board], np.int64)
    taken = np.array([r.exit_index for r in board], np.int64)
    labels = np.asarray(labels, np.int64)
    correct = pred == labels
    n = len(labels)
    report = {
        "accuracy": float(correct.mean()) if n else 0.0,
        "n": int(n),
        "agreement_with_python": float(agree.mean()) if n else 0.0,
        "exits": [{"index": e, "fraction": float((taken == e).mean()) if n else 0.0,
                   "accuracy": float(correct[taken == e].mean()) if (taken == e).any() else None}
                  for e in range(exits)],
        "per_class_accuracy": {name: float(correct[labels == c].mean())
                               for c, name in enumerate(label_names) if (labels == c).any()},
    }
    return report


def pick(n_total: int, limit: int | None) -> np.ndarray:
    """Indices of `limit` clips spread evenly over the set (so every class folder contributes)."""
    if limit is None or limit >= n_total:
        return np.arange(n_total)
    return np.unique(np.linspace(0, n_total - 1, max(1, limit)).round().astype(np.int64))


def _progress_bar(total: int, enabled: bool):
    """A rich progress bar on stderr (a no-op callback when disabled)."""
    if not enabled:
        return None, lambda done: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task("clips", total=total)
    return bar, lambda done: bar.update(task, completed=done)


def evaluate(clips: np.ndarray, labels: np.ndarray, *, path: str, board=None, threshold: float | None = None,
             full_depth: bool = False, show_progress: bool = False, emulated: str | None = None) -> dict:
    """Run the clips through the firmware (path "semihosting" on the emulated board `emulated`, or
    "serial" with `board`, a BoardClient after HELLO) and compare with labels and the Python
    reference. The report dict."""
    model = read_model(model_tables_dir())
    thr = thresholds_for(model, threshold, full_depth)
    uniform = None if threshold is None and not full_depth else thr[0]
    bar, progress = _progress_bar(len(clips), show_progress)
    t0 = time.monotonic()
    run = None
    if bar is not None:
        bar.start()
    try:
        if path == "semihosting":
            results, run = run_clips_semihosting(clips, THRESHOLD_DEFAULT if uniform is None else uniform, progress,
                                                 board=emulated)
        else:
            if board.ready.model and not model.checkpoint_sha256.startswith(board.ready.model):
                raise BitearError(f"the board runs model {board.ready.model}, the tables here are "
                                  f"{model.checkpoint_sha256[:16]}: flash the current firmware")
            results = run_clips_serial(board, clips, uniform, progress, align_hops=model.stream_align_frames)
    finally:
        if bar is not None:
            bar.stop()
    elapsed = time.monotonic() - t0
    ref = reference.infer(model, compute_features(np.ascontiguousarray(clips, np.int16)), thr)
    agree = agreement(results, ref)
    report = summarize(labels, results, agree, len(model.heads), model.labels)
    report.update(path=path, model_sha256=model.checkpoint_sha256, thresholds_q16=thr, elapsed_s=round(elapsed, 2),
                  python_accuracy=float((ref.label == np.asarray(labels)).mean()) if len(labels) else 0.0,
                  mismatches=[int(i) for i in np.flatnonzero(~agree)[:10]])
    if run is not None:
        per_tick = NS_PER_SECOND / run.tick_hz     # -icount shift=0: one instruction per ns (mps2-an386: 40)
        total = np.array([r.cost for r in results], np.float64) * per_tick
        front = np.array([r.cost_before for r in results], np.float64) * per_tick
        report.update(avg_instructions_inference=float((total - front).mean()) if len(total) else 0.0,
                      avg_instructions_frontend_hop=float(front.mean()) if len(front) else 0.0,
                      stack_used_bytes=run.stack_used, instructions_note=f"ticks x {per_tick:.4g} under QEMU -icount "
                      "shift=0; inference = the inferring hop minus the hop before (front end only)")
    elif results:
        report.update(avg_cost=float(np.mean([r.cost for r in results])),
                      cost_unit=COST_UNITS.get(board.ready.cost_unit, str(board.ready.cost_unit)))
    return report


# ---- command line -----------------------------------------------------------------------------------

def load_clips(data: Path, limit: int | None, progress: bool):
    if not data.is_dir():
        raise BitearError(f"{data}: data folder not found")
    clips = load_speech_commands(data, None if is_test_layout(data) else "test", convert=True, progress=progress)
    idx = pick(len(clips), limit)
    return clips.subset(idx)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="Speech Commands folder (either layout; full layout: its test split)")
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--emulator", action="store_true", help="the emulated board (QEMU mps2-an386)")
    where.add_argument("--port", help="a board on this serial port (any pyserial URL)")
    ap.add_argument("--board", default=DEFAULT_BOARD, help=f"with --emulator: {DEFAULT_BOARD} (default; QEMU mps2-an386) "
                    "or feather_f405 (the STM32F405 firmware in QEMU netduinoplus2)")
    ap.add_argument("--serial", action="store_true", help="with --emulator: stream over the emulated UART "
                    "through the application firmware instead of the semihosting evaluation build (slow)")
    ap.add_argument("--baud", type=int, default=115200, help="serial rate of a real board (default 115200)")
    ap.add_argument("--limit", type=int, default=None, help="evaluate N clips spread evenly over the folder")
    ap.add_argument("--threshold", type=float, default=None, help="exit threshold in [0, 1] for all early exits")
    ap.add_argument("--full-depth", action="store_true", help="never exit early")
    ap.add_argument("--model-dir", type=Path,
                    help="the model tables in DIR (python -m codegen CKPT -o DIR) instead of the committed ones")
    ap.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    args = ap.parse_args(argv)
    return run_cli(lambda: _run(args))


def _run(args) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise BitearError(f"--threshold must be in [0, 1], found {args.threshold}")
    if args.limit is not None and args.limit < 1:
        raise BitearError("--limit must be at least 1")
    emulated_board(args.board)              # an unknown board is the user's error
    if args.model_dir is not None:
        use_model_dir(args.model_dir)
    tty = sys.stderr.isatty()
    clips = load_clips(args.data, args.limit, progress=tty)
    common = dict(threshold=args.threshold, full_depth=args.full_depth, show_progress=tty)
    if args.emulator and not args.serial:
        report = evaluate(clips.audio, clips.labels, path="semihosting", emulated=args.board, **common)
        report["board"] = f"{args.board} (evaluation build, QEMU {emulated_board(args.board).machine})"
    else:
        import serial

        try:
            if args.emulator:
                with Emulator(board=args.board) as emu, BoardClient(emu.port) as board:
                    report = evaluate(clips.audio, clips.labels, path="serial", board=board, **common)
                    report["board"] = board.ready.board
            else:
                with serial.serial_for_url(args.port, baudrate=args.baud, timeout=0.05) as port, BoardClient(port) as board:
                    report = evaluate(clips.audio, clips.labels, path="serial", board=board, **common)
                    report["board"] = board.ready.board
        except (EmulatorError, serial.SerialException) as e:
            raise BitearError(str(e)) from None
    report["data"] = str(args.data)
    names = LABELS
    print(f"{report['n']} clips of {args.data} through the firmware ({report['path']} path, {report['board']}), "
          f"{report['elapsed_s']:.1f} s")
    print(f"accuracy {report['accuracy'] * 100:.2f} %   (Python reference {report['python_accuracy'] * 100:.2f} %)")
    print(f"agreement with the Python integer reference: {report['agreement_with_python'] * 100:.2f} %"
          + (f"  (first mismatches: clips {report['mismatches']})" if report["mismatches"] else ""))
    print_exits(report)
    if "avg_instructions_inference" in report:
        print(f"instructions: inference {report['avg_instructions_inference']:,.0f} on average (early exit), "
              f"front end {report['avg_instructions_frontend_hop']:,.0f} per hop")
    print_per_class(report, names)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
