"""Distil the binary student from the DS-CNN-L teacher: `python -m model.train [options]`.

The shipped recipe (`model.distill`: sources, the augmented pool, stream windows, mixes, loss,
calibration) on the shared data, or with `--dataset DIR` your own words (`model.train_folder`).
Writes the checkpoint with its metadata (config, labels, front end, exit thresholds, teacher hash,
data, validation figures, history). `--resume` continues from the last finished epoch.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from model import train_folder
from model.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint
from model.datasets import LABELS
from model.distill import (add_recipe_options, build_pool, distill, load_sources, recipe_from_args, teacher_function,
                           validation_features, validation_windows)
from model.errors import BitearError, run_cli
from model.evaluate import calibrate_thresholds, exit_logits, summarize
from model.feature_cache import features_cached
from model.frontend import FRONTEND_PARAMS
from model.paths import cache_dir, data_dir
from model.student import BinaryStudent, format_cost_table
from model.teacher import Teacher
from model.teacher_cache import teacher_logits_cached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="data folder (default: $BITEAR_DATA or ../shared/data)")
    parser.add_argument("--out", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint to write")
    parser.add_argument("--dataset", type=Path, default=None,
                        help="train on your own words: a folder-per-class dataset (model/train_folder.py); default: the shipped recipe")
    parser.add_argument("--clips-per-class", type=int, default=None, help="with --dataset: keep N clips per class (seeded)")
    parser.add_argument("--test-dataset", type=Path, default=None, help="with --dataset: a dataset of the same labels scored after training")
    parser.add_argument("--init", type=Path, default=None, help="with --dataset: start from a backbone of python -m model.pretrain")
    parser.add_argument("--synthetic-voices", type=int, default=0,
                        help="with --dataset: N synthetic clips per class, its folder name spoken by espeak-ng/flite/festival English voices (validation voices calibrate the exits)")
    add_recipe_options(parser)
    parser.add_argument("--resume", action="store_true", help="continue from the last finished epoch in the state folder")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    return run_cli(lambda: _run(args), interrupted="interrupted: rerun with --resume to continue from the last finished epoch")


def _run(args) -> int:
    train_folder.check_dataset_args(args)
    if args.dataset is not None:
        if args.out == DEFAULT_CHECKPOINT:
            raise BitearError("--dataset: name the checkpoint to write with --out (the default is the shipped model)")
        return train_folder.run(args, recipe_from_args(args))

    root = args.data or data_dir()
    if root is None or not (root / "speech_commands_v2_dev").is_dir():
        raise BitearError(f"training needs the data folder with speech_commands_v2_dev/ (found {root}); set BITEAR_DATA or pass --data")
    cfg = recipe_from_args(args)
    progress = not args.no_progress
    t_start = time.perf_counter()
    print(format_cost_table(BinaryStudent(cfg.config or None)))
    teacher = Teacher.load()
    sources, val, noise = load_sources(cfg, root, progress)
    print(f"sources: {len(sources)} clips {sources.counts()}; validation: {len(val)} clips of {len(set(val.speakers))} speakers")
    features = lambda a: features_cached(a, progress=progress)
    key = cfg.pool_key(teacher.sha256, str(FRONTEND_PARAMS["source_hash"]))
    # teacher logits per clip are cached on disk (the tinygrad model of record; the numpy port agrees to ~1e-5)
    teacher_logits = lambda a: teacher_logits_cached(a, teacher=teacher, progress=progress)
    pool = build_pool(cfg, sources, noise, teacher_logits, features, key, progress)
    val_features = validation_features(cfg, val, noise, features)
    teacher_val = teacher_logits(val.audio)
    teacher_acc = float((teacher_val.argmax(1) == val.labels).mean())
    val_stream = validation_windows(cfg, val, noise, teacher_logits, features) if cfg.val_stream_windows else None
    print(f"pool ready: {len(pool.labels)} clips ({time.perf_counter() - t_start:.0f} s); teacher on validation {teacher_acc * 100:.2f} %"
          + (f"; {len(val_stream.labels)} validation stream windows" if val_stream else ""))
    state_dir = cache_dir("train", args.out.stem + "-" + key + "-" + hashlib.sha1(json.dumps(asdict(cfg), sort_keys=True).encode()).hexdigest()[:8])
    student, history = distill(cfg, pool, val_features, val.labels, state_dir, args.resume, progress,
                               teacher_from_mfcc=teacher_function(teacher), val_stream=val_stream)
    macs = student.binary_macs_to_exit()
    logits = exit_logits(student, val_features, stage=cfg.precision)
    stream_logits = exit_logits(student, val_stream.features, stage=cfg.precision) if val_stream else None
    stream = (stream_logits, val_stream.labels) if val_stream else None
    thresholds = calibrate_thresholds(logits, val.labels, macs, cfg.calibration_drop, stream=stream)
    report = summarize(logits, val.labels, thresholds, macs)
    stream_report = summarize(stream_logits, val_stream.labels, thresholds, macs) if val_stream else None
    elapsed = time.perf_counter() - t_start
    validation = {"accuracy": report["accuracy"], "accuracy_full_depth": report["accuracy_full_depth"],
                  "teacher_accuracy": teacher_acc, "avg_binary_macs": report["avg_binary_macs"]}
    if stream_report:
        validation["stream_windows"] = {k: stream_report[k] for k in ("n", "accuracy", "accuracy_full_depth", "avg_binary_macs")}
    metadata = {
        "labels": list(LABELS),
        "frontend": FRONTEND_PARAMS,
        "exit_thresholds": thresholds,
        "teacher_sha256": teacher.sha256,
        "data": {"train_sources": sources.counts(), "train_source_kinds": sorted(set(sources.sources)),
                 "pool_clips": int(len(pool.labels)), "validation": "speech_commands_v2_dev speakers with sha1 split (salt 'bitear', fraction %.2f)" % cfg.val_fraction,
                 "validation_clips": int(len(val))},
        "training": {"config": asdict(cfg), "history": history, "seconds": round(elapsed),
                     "command": "python -m model.train " + " ".join(sys.argv[1:])},
        "validation": validation,
    }
    save_checkpoint(args.out, student, metadata)
    print(json.dumps({k: report[k] for k in ("accuracy", "accuracy_full_depth", "avg_binary_macs", "full_binary_macs")}))
    if stream_report:
        print("validation stream windows (agreement with the teacher): " + json.dumps(
            {k: stream_report[k] for k in ("accuracy", "accuracy_full_depth", "avg_binary_macs")}))
    print(f"thresholds {thresholds}; exits " + ", ".join(
        f"{e['index']}: {e['fraction'] * 100:.0f} %" + (f" at {e['accuracy'] * 100:.1f} %" if e["accuracy"] is not None else "")
        for e in report["exits"]))
    print(f"wrote {args.out} after {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
