"""Recalibrate a checkpoint's early-exit thresholds: `python -m model.calibrate CHECKPOINT [--max-drop P]`.

The step `python -m model.train` ends with, on its own: on the checkpoint's validation speakers
of `speech_commands_v2_dev` (its speaker split, recorded in the metadata) — their clips and, when
the checkpoint was trained with them, the same stream windows cut from their clips and labelled by
the teacher (`model.distill.validation_windows`) — pick per-exit thresholds with the least average
compute whose accuracy stays within P points of full depth on both, and write them (and the
validation figures) back into the checkpoint's metadata. The tensors
are untouched; run `python -m codegen` afterwards to regenerate the C tables.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model.checkpoint import load_checkpoint, save_checkpoint
from model.datasets import BackgroundNoise, SPLIT_SALT, load_speech_commands
from model.errors import BitearError
from model.evaluate import calibrate_thresholds, exit_logits, summarize
from model.feature_cache import features_cached
from model.paths import data_dir
from model.streams import context_features
from model.teacher import Teacher
from model.teacher_cache import teacher_logits_cached
from model.distill import TrainConfig, validation_windows


def recalibrate(checkpoint: Path, data: Path, max_drop: float, out: Path | None = None) -> dict:
    """Calibrate on the validation speakers and rewrite the checkpoint; returns the evaluation summary."""
    student, meta = load_checkpoint(checkpoint)
    train_config = meta.get("training", {}).get("config", {})
    fraction = train_config.get("val_fraction")
    if fraction is None:
        raise BitearError(f"{checkpoint}: no speaker split in its metadata (training.config.val_fraction)")
    dev = data / "speech_commands_v2_dev"
    if not dev.is_dir():
        raise BitearError(f"{dev}: not found (set BITEAR_DATA or pass --data)")
    _, val = load_speech_commands(dev, progress=False).split_by_speaker(fraction, salt=SPLIT_SALT)
    logits = exit_logits(student, context_features(student.config, val.audio, lambda a: features_cached(a, progress=False)))
    macs = student.binary_macs_to_exit()
    stream = _validation_stream(student, train_config, val, data)
    thresholds = calibrate_thresholds(logits, val.labels, macs, max_drop, stream=stream)
    report = summarize(logits, val.labels, thresholds, macs)
    meta["exit_thresholds"] = thresholds
    meta.setdefault("validation", {}).update({"accuracy": report["accuracy"], "accuracy_full_depth": report["accuracy_full_depth"],
                                             "avg_binary_macs": report["avg_binary_macs"], "calibration_max_drop_points": max_drop})
    if stream is not None:
        s = summarize(*stream, thresholds, macs)
        meta["validation"]["stream_windows"] = {k: s[k] for k in ("n", "accuracy", "accuracy_full_depth", "avg_binary_macs")}
    for key in ("format", "format_version", "config"):
        meta.pop(key, None)
    save_checkpoint(out or checkpoint, student, meta)
    return report


def _validation_stream(student, train_config: dict, val, data: Path):
    """(logits per exit, teacher labels) of the checkpoint's validation stream windows, or None if it had none."""
    if not train_config.get("val_stream_windows"):
        return None
    known = {k: v for k, v in train_config.items() if k in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(**{**known, "exit_weights": tuple(known.get("exit_weights", TrainConfig.exit_weights))})
    teacher = Teacher.load()
    noise = BackgroundNoise.load(data / "background_noise", progress=False)
    check = validation_windows(cfg, val, noise, lambda a: teacher_logits_cached(a, teacher=teacher, progress=False),
                               lambda a: features_cached(a, progress=False))
    return exit_logits(student, check.features), check.labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, default=None, help="data folder (default: $BITEAR_DATA or ../shared/data)")
    parser.add_argument("--max-drop", type=float, default=0.95, help="accuracy points the early exits may lose (default 0.95)")
    parser.add_argument("--out", type=Path, default=None, help="write here instead of rewriting CHECKPOINT")
    args = parser.parse_args(argv)
    try:
        root = args.data or data_dir()
        if root is None:
            raise BitearError("no data folder: set BITEAR_DATA or pass --data")
        r = recalibrate(args.checkpoint, root, args.max_drop, args.out)
    except BitearError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"thresholds {r['thresholds']}: accuracy {r['accuracy'] * 100:.2f} % (full depth {r['accuracy_full_depth'] * 100:.2f} %), "
          f"average binary MACs {r['avg_binary_macs'] / r['full_binary_macs'] * 100:.1f} % of full depth, "
          "exits " + " / ".join(f"{e['fraction'] * 100:.0f} %" for e in r["exits"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
