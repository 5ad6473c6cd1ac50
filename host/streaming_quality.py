"""Streaming quality on a long stream: the teacher beside the student, at full depth and with early
exits. Per row: detection rate, wrong label, missed, false detections per hour, median latency from
the word's onset and from its end, exit fractions and average instructions per inference.

    python -m host.streaming_quality [--keywords N] [--unknown N] [--generated] [--seed S] [--json]
    python -m host.streaming_quality --wav FILE --truth CSV    # your own recording, truth `start_s,end_s,label`
    python -m host.streaming_quality --sweep       # the early-exit row scored for a grid of detector settings

The stream (host.stream_truth): keywords and other words, each after 1-2 s of noise. Where the
shared data exist (`model.paths.data_dir()`), clips of speech_commands_v2_dev spoken by the
student's *validation speakers* (voices it never trained on) over background_noise/; else (or with
--generated) espeak-ng/flite words over pink noise; or any recording with a truth CSV (--wav, --truth:
rows whose label is not a keyword are distractors).

The rows, all on the same stream, with the same detector (its parameters: bitear_detector.h's
defaults, the minimum count the inference period gives it, host.detector.min_count_for_period) and
the same scoring (host.stream_scoring):

- student, full depth / early exit: the evaluation build (PlatformIO env qemu_m4_eval) runs the very
  bitear_stream and bitear_detector code of the firmware on the emulated Cortex-M4, reading the
  stream by semihosting; one run with every early exit off ("never"), one at the model's shipped
  exit thresholds. Inference every `--infer-every` hops (the firmware's APP_INFER_EVERY). Instructions
  per inference: the inferring hop's ticks minus the hop before's (front end only), x 40 (QEMU
  -icount shift=0); per second of audio: all hops' ticks (front end + network) x 40 / the stream's
  seconds. `--model-dir DIR` measures the model tables in DIR (`python -m codegen CKPT -o DIR`).
- teacher (DS-CNN-L, float, model.teacher's numpy port): at every inference point of the student, the
  16000 samples that end where the student's window ends (hop x 320; zeros before the stream's
  start, as the student's fresh front end has), its own MFCC (model.mfcc), softmax in Q15, then the
  C detector's arithmetic in Python (host.detector, bit for bit the firmware's). Its weights ship in
  model/teacher_ds_cnn_l/; when they cannot be read the row is left out (and says so).
- window every 4, full / early (only for a streamable model, whose firmware runs the streaming
  runtime): the same network as the window runtime would run it — codegen.reference on the last 49
  frames of the C-exact front end every 4 hops (the period of "same"-padded models) — so the
  streaming runtime's period and its unaligned exits are compared with full-window inference.

`--sweep` replays the early-exit run's per-inference scores through host.detector (checked against the
firmware's own detections for the default settings) for every window x score threshold x minimum
count: how the defaults in bitear_detector.h were chosen for the shipped model.

The last stdout line is one JSON object (`rows`: one object per row; the stream's description).
Errors a user can fix (missing file, bad truth CSV) are one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from codegen import reference
from codegen.intmodel import THRESHOLD_NEVER
from codegen.tables import read_model
from host.detector import DetectorParams, detect, min_count_for_period
from host.evaluate import CLIP_SAMPLES, INSTRUCTIONS_PER_TICK, MODE_STREAM, THRESHOLD_DEFAULT, model_tables_dir, run_eval_build, use_model_dir
from host.stream_scoring import LATENCY_MS, detections_ms, score
from host.stream_truth import Stream, generated_stream, real_stream, wav_stream
from model.audio import SAMPLE_RATE
from model.errors import BitearError, run_cli
from model.facts import HOP, LABELS, PERIOD_WINDOW, default_period
from model.frontend import StreamingFrontend
from model.mfcc import mfcc
from model.paths import data_dir
from model.teacher import Teacher

TEACHER_CHUNK = 1024                    # teacher windows per batch (16000 int16 each: 32 MB)


# ---- the student: the firmware's evaluation build ----------------------------------------------------

def run_stream(stream: Stream, infer_every: int, detector: DetectorParams, threshold_q16: int = THRESHOLD_DEFAULT):
    """The stream through the evaluation build: its EvalRun (results of every inference, detections)."""
    hops = len(stream.audio) // HOP
    run = run_eval_build(MODE_STREAM, stream.audio, hops, infer_every=infer_every, threshold_q16=threshold_q16,
                         detector=detector, timeout_s=120 + hops * 0.01)
    if run.hops != hops:
        raise BitearError(f"the evaluation build processed {run.hops} of {hops} hops")
    return run


def student_costs(run) -> dict:
    """Exit fractions (per exit of the model), average instructions per inference (the inferring
    hop's minus the hop before's), instructions per second of audio (every hop: front end +
    network) and the dearest hop of an EvalRun."""
    exits = len(read_model(model_tables_dir()).heads)
    taken = np.array([r.exit_index for r in run.results], np.int64)
    ticks = np.array([r.cost - r.cost_before for r in run.results], np.float64)
    n = len(taken)
    seconds = run.hops * HOP / SAMPLE_RATE
    return {"exits": [float((taken == e).mean()) if n else 0.0 for e in range(exits)],
            "avg_instructions_inference": float(ticks.mean()) * INSTRUCTIONS_PER_TICK if n else 0.0,
            "instructions_per_second_of_audio": run.total_ticks * INSTRUCTIONS_PER_TICK / seconds if seconds else 0.0,
            "instructions_worst_hop": run.max_hop_ticks * INSTRUCTIONS_PER_TICK}


# ---- the teacher on the same windows -----------------------------------------------------------------

def window_starts(hops: np.ndarray) -> np.ndarray:
    """First sample of the 1 s window that ends with hop h (the student's window at its result of hop h):
    h x 320 - 16000 (negative: the window begins before the stream)."""
    return np.asarray(hops, np.int64) * HOP - CLIP_SAMPLES


def windows(audio: np.ndarray, hops: np.ndarray) -> np.ndarray:
    """(len(hops), 16000) int16: the 16000 samples ending at hop h x 320, zeros before the stream."""
    padded = np.concatenate([np.zeros(CLIP_SAMPLES, np.int16), np.asarray(audio, np.int16)])
    view = np.lib.stride_tricks.sliding_window_view(padded, CLIP_SAMPLES)
    return view[window_starts(hops) + CLIP_SAMPLES]


def teacher_logits_fn() -> Callable[[np.ndarray], np.ndarray]:
    """(N, 16000) int16 -> (N, 12) logits of the DS-CNN-L teacher (numpy port) on its own MFCC."""
    teacher = Teacher.load()
    return lambda clips: teacher.logits_from_features(mfcc(clips), backend="numpy")


def teacher_scores_q15(audio: np.ndarray, hops: np.ndarray, logits_fn: Callable[[np.ndarray], np.ndarray],
                       chunk: int = TEACHER_CHUNK) -> np.ndarray:
    """(len(hops), 12) softmax scores in Q15 of logits_fn on the window ending at each hop, in batches."""
    out = np.zeros((len(hops), len(LABELS)), np.int64)
    for lo in range(0, len(hops), chunk):
        logits = np.asarray(logits_fn(windows(audio, hops[lo:lo + chunk])), np.float64)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        out[lo:lo + chunk] = np.round(p / p.sum(axis=1, keepdims=True) * 32768)
    return out


def teacher_detections(audio: np.ndarray, hops: np.ndarray, params: DetectorParams,
                       logits_fn: Callable[[np.ndarray], np.ndarray]) -> list[tuple[int, int, int]]:
    """The detections (hop, label, score_q15) of the same detector on the teacher's scores."""
    scores = teacher_scores_q15(audio, hops, logits_fn)
    events = detect([int(h) * 20 for h in hops], [tuple(s) for s in scores], params)
    return [(t // 20, label, q15) for t, label, q15 in events]


# ---- the window runtime beside the streaming one ------------------------------------------------------

def window_runtime_detections(audio: np.ndarray, model, thresholds_q16: list[int]) -> list[tuple[int, int, int]]:
    """What the firmware's window runtime (bitear_model_infer on the last window of frames every
    PERIOD_WINDOW hops, its detector's minimum count at that period) would detect on this audio:
    codegen.reference on the C-exact streaming front end's frames, then host.detector."""
    frames = StreamingFrontend().push_many(np.asarray(audio, np.int16))
    window = model.stem.frames  # 49 frames, or more for a student with a longer input context
    hops = np.arange(window, len(frames) + 1, PERIOD_WINDOW)
    result = reference.infer(model, np.stack([frames[h - window:h] for h in hops]), thresholds_q16)
    params = DetectorParams(classes=model.classes, min_count=min_count_for_period(PERIOD_WINDOW))
    events = detect([int(h) * 20 for h in hops], [tuple(int(v) for v in s) for s in result.scores_q15], params)
    return [(t // 20, label, q15) for t, label, q15 in events]


# ---- the rows ----------------------------------------------------------------------------------------

def replay_detector(run, params: DetectorParams) -> list[tuple[int, int, int]]:
    """The detections (hop, label, score_q15) the board would make with `params` on the same inferences."""
    events = detect([r.hop * 20 for r in run.results], [r.scores_q15 for r in run.results], params)
    return [(t // 20, label, q15) for t, label, q15 in events]


def stream_seconds(stream: Stream) -> float:
    return len(stream.audio) // HOP * HOP / SAMPLE_RATE


def row(name: str, stream: Stream, detections: list[tuple[int, int, int]], costs: dict | None = None,
        full_depth_instructions: float | None = None) -> dict:
    """One row: the scores of `detections` (hop, label, score_q15), plus exits and instructions of a student row."""
    r = {"row": name, **score(stream.keywords, detections_ms(detections), stream_seconds(stream)),
         "exits": None, "avg_instructions_inference": None, "instructions_vs_full_depth": None,
         "instructions_per_second_of_audio": None, "instructions_worst_hop": None}
    if costs is not None:
        r.update(costs)
        if full_depth_instructions:
            r["instructions_vs_full_depth"] = costs["avg_instructions_inference"] / full_depth_instructions
    return r


def measure(stream: Stream, infer_every: int, detector: DetectorParams,
            teacher: Callable[[np.ndarray], np.ndarray] | None = None) -> dict:
    """The three rows on one stream: teacher (when `teacher`, a logits function, is given), student at full
    depth, student with early exits (the model's thresholds). The report dict."""
    full = run_stream(stream, infer_every, detector, THRESHOLD_NEVER)
    early = run_stream(stream, infer_every, detector)
    hops = np.array([r.hop for r in full.results], np.int64)
    if [r.hop for r in early.results] != list(hops):
        raise BitearError("the two evaluation runs inferred on different hops")
    full_costs, early_costs = student_costs(full), student_costs(early)
    rows = []
    t0 = time.monotonic()
    if teacher is not None:
        rows.append(row("teacher", stream, teacher_detections(stream.audio, hops, detector, teacher)))
    teacher_s = time.monotonic() - t0
    rows.append(row("student_full_depth", stream, full.detections, full_costs, full_costs["avg_instructions_inference"]))
    rows.append(row("student_early_exit", stream, early.detections, early_costs, full_costs["avg_instructions_inference"]))
    model = read_model(model_tables_dir())
    if model.streamable:   # the same network as the window runtime would run it (Python reference)
        never = [THRESHOLD_NEVER] * (len(model.heads) - 1)
        rows.append(row("window_full_depth", stream, window_runtime_detections(stream.audio, model, never)))
        rows.append(row("window_early_exit", stream,
                        window_runtime_detections(stream.audio, model, model.exit_thresholds_q16)))
    return {
        "rows": rows, "source": stream.source, "keywords": len(stream.keywords), "distractor_words": stream.distractors,
        "speakers": stream.speakers, "duration_s": round(stream_seconds(stream), 1), "inferences": len(hops),
        "infer_every_hops": infer_every,
        "detector": {"window_ms": detector.window_ms, "threshold_q15": detector.threshold_q15,
                     "suppression_ms": detector.suppression_ms, "min_count": detector.min_count},
        "latency_window_ms": [0, LATENCY_MS], "path": "semihosting",
        "emulator_wall_s": round(full.wall_s + early.wall_s, 1), "teacher_wall_s": round(teacher_s, 1),
    }


def detector_defaults(infer_every: int) -> DetectorParams:
    """The board's detector at this period: bitear_detector.h's defaults, the minimum count the
    period gives it (SET_PERIOD keeps the count's time span)."""
    return DetectorParams(min_count=min_count_for_period(infer_every))


def sweep(stream: Stream, infer_every: int, windows_ms=(500, 750, 1000), thresholds=(0.5, 0.6, 0.7, 0.8, 0.9),
          min_counts: tuple[int, ...] | None = None) -> list[dict]:
    """Score the early-exit row for every detector setting in the grid (one firmware run, replayed on the
    host). The minimum count stays at the period's default unless given: with an inference every 4 hops,
    any window of 500 ms or more holds at least 6 results, so counts up to 4 measured the same."""
    default = detector_defaults(infer_every)
    min_counts = min_counts or (default.min_count,)
    run = run_stream(stream, infer_every, default)
    if replay_detector(run, default) != run.detections:
        raise BitearError("host.detector disagrees with the firmware's detections on this stream")
    rows = []
    for window in windows_ms:
        for threshold in thresholds:
            for count in min_counts:
                params = DetectorParams(window_ms=window, threshold_q15=round(threshold * 32768), min_count=count)
                rows.append({"window_ms": window, "threshold": threshold, "min_count": count,
                             **score(stream.keywords, detections_ms(replay_detector(run, params)), stream_seconds(stream))})
    return rows


# ---- printing and the command line -------------------------------------------------------------------

ROW_NAMES = {"teacher": "teacher DS-CNN-L (float)", "student_full_depth": "student, full depth",
             "student_early_exit": "student, early exit",
             "window_full_depth": f"window every {PERIOD_WINDOW}, full", "window_early_exit": f"window every {PERIOD_WINDOW}, early"}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def print_rows(report: dict) -> None:
    print(f"{'':26}{'detected':>9}{'wrong':>7}{'missed':>7}{'false/h':>9}{'latency: onset':>16}{'end':>8}"
          f"   {'exits':18}{'instructions/inference':>24}{'per s of audio':>16}{'dearest hop':>13}")
    for r in report["rows"]:
        exits = "-" if r["exits"] is None else " / ".join(f"{f * 100:.0f}" for f in r["exits"]) + " %"
        instr = "-" if r["avg_instructions_inference"] is None else \
            f"{r['avg_instructions_inference']:,.0f} ({r['instructions_vs_full_depth'] * 100:.0f} %)"
        per_s = "-" if r["instructions_per_second_of_audio"] is None else \
            f"{r['instructions_per_second_of_audio'] / 1e6:.2f} M"
        worst = "-" if r["instructions_worst_hop"] is None else f"{r['instructions_worst_hop'] / 1e3:,.0f} k"
        print(f"{ROW_NAMES[r['row']]:26}{r['detection_rate'] * 100:8.1f}%{r['wrong_label']:7}{r['missed']:7}"
              f"{r['false_detections_per_hour']:9.1f}{_ms(r['median_latency_ms']):>16}{_ms(r['median_latency_from_end_ms']):>8}"
              f"   {exits:18}{instr:>24}{per_s:>16}{worst:>13}")


def print_sweep(rows: list[dict], d: DetectorParams) -> None:
    print("window  threshold  min count   detection rate   false/hour   median latency (onset / end)")
    for r in rows:
        mark = "  (default)" if (r["window_ms"], round(r["threshold"] * 32768), r["min_count"]) == \
            (d.window_ms, d.threshold_q15, d.min_count) else ""
        print(f"{r['window_ms']:5} ms  {r['threshold']:9.2f}  {r['min_count']:9}   {r['detection_rate'] * 100:13.1f} %"
              f"   {r['false_detections_per_hour']:10.1f}   {_ms(r['median_latency_ms']):>8} / {_ms(r['median_latency_from_end_ms'])}{mark}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.streaming_quality", description=__doc__.split("\n\n")[0])
    ap.add_argument("--keywords", type=int, default=300, help="keyword clips in the stream (default 300)")
    ap.add_argument("--unknown", type=int, default=100, help="non-keyword words in the stream (default 100)")
    ap.add_argument("--infer-every", type=int,
                    help="inference period in 20 ms hops (default: the firmware's, APP_INFER_EVERY: 2 for a "
                         "streamable model, else 4)")
    ap.add_argument("--model-dir", type=Path,
                    help="the model tables in DIR (python -m codegen CKPT -o DIR) instead of the committed ones")
    ap.add_argument("--generated", action="store_true", help="generated speech even when the shared data exist")
    ap.add_argument("--wav", type=Path, help="score this recording (any rate / channels) instead; needs --truth")
    ap.add_argument("--truth", type=Path, help="truth CSV of --wav: header start_s,end_s,label (non-keywords: distractors)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the stream: which clips or voices, their order, the noise and the gaps (default 0)")
    ap.add_argument("--sweep", action="store_true", help="score a grid of detector settings on the same stream")
    ap.add_argument("--json", action="store_true", help="(the last line is JSON in any case)")
    args = ap.parse_args(argv)
    return run_cli(lambda: _run(args))


def make_stream(args) -> Stream:
    if (args.wav is None) != (args.truth is None):
        raise BitearError("--wav and --truth go together: the recording and its truth CSV (start_s,end_s,label)")
    if args.wav is not None:
        return wav_stream(args.wav, args.truth)
    rng = np.random.default_rng(args.seed)
    root = data_dir()
    if root is not None and (root / "speech_commands_v2_dev").is_dir() and not args.generated:
        return real_stream(root, args.keywords, args.unknown, rng)
    return generated_stream(args.keywords, args.unknown, rng, args.seed)


def _run(args) -> int:
    if args.model_dir is not None:
        use_model_dir(args.model_dir)
    if args.infer_every is None:
        args.infer_every = default_period(read_model(model_tables_dir()).streamable)
    if args.infer_every < 1 or (args.wav is None and (args.keywords < 1 or args.unknown < 0)):
        raise BitearError("--keywords >= 1, --unknown >= 0 and --infer-every >= 1 please")
    t0 = time.monotonic()
    stream = make_stream(args)
    speakers = "" if stream.speakers is None else f" from {stream.speakers} speakers/voices"
    length = stream_seconds(stream)
    length = f"{length / 60:.1f} min" if length >= 120 else f"{length:.1f} s"
    print(f"{length} stream ({stream.source}): {len(stream.keywords)} keywords, "
          f"{stream.distractors} other words{speakers}; inference every {args.infer_every} hops")
    if args.sweep:
        rows = sweep(stream, args.infer_every)
        print_sweep(rows, detector_defaults(args.infer_every))
        print(json.dumps({"sweep": rows, "source": stream.source, "wall_s": round(time.monotonic() - t0, 1)}))
        return 0
    try:
        teacher = teacher_logits_fn()
    except BitearError as e:
        teacher = None
        print(f"teacher row left out: {e}")
    report = measure(stream, args.infer_every, detector_defaults(args.infer_every), teacher)
    report["wall_s"] = round(time.monotonic() - t0, 1)
    print_rows(report)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
