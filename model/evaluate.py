"""Evaluate a student checkpoint with early exits: `python -m model.evaluate CHECKPOINT DATA_DIR [--json]`.

DATA_DIR is, for a checkpoint with the teacher's 12 labels, a Speech Commands folder in either layout
(test-set layout with `_silence_`/`_unknown_` folders, or the full dataset's word folders — then its
`testing_list.txt` split is used); for any other checkpoint a folder-per-class dataset
(model.datasets.load_folder_dataset) whose folder names are labels of the checkpoint. Prints
accuracy overall and per class, per exit the fraction of clips that stopped there and the accuracy
there, average and full-depth binary MACs, and accuracy at full depth. `--plots DIR` writes PNGs:
accuracy vs average compute as the threshold sweeps, the confusion matrix, and which exit each class
takes. With `--json` the last stdout line is one JSON object.

Early exit rule: at exit i < last, stop when the normalized entropy H(softmax(logits)) / ln(classes)
is <= threshold_i. Threshold 0 never stops early (unless a head is certain), 1 always stops at the first exit.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import weakref
from pathlib import Path
from typing import Sequence

import numpy as np

from model.checkpoint import check_frontend, load_checkpoint
from model.datasets import LABELS, SPLIT_SALT, is_test_layout, load_folder_dataset, load_speech_commands
from model.errors import BitearError, run_cli
from model.feature_cache import features_cached
from model.frontend import FRONTEND_PARAMS
from model.jsonout import json_line
from model.streams import context_features

EVAL_BATCH = 256


_EVAL_JITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def exit_logits(student, features: np.ndarray, batch: int = EVAL_BATCH, stage: str = "binary") -> list[np.ndarray]:
    """Float logits of every exit for (N, 49, 40) int8 features, batch norm in inference mode.

    `stage` is a training stage of `model.distill` ("binary" is the deployed network; "real" and "binact"
    evaluate the relaxed networks of a staged schedule)."""
    from tinygrad import Tensor, TinyJit

    jits = _EVAL_JITS.setdefault(student, {})  # kept off the student: its state dict is what checkpoints save
    jit = jits.get(stage)
    if jit is None:
        jit = TinyJit(lambda x: [o.realize() for o in student(x, binary_act=stage != "real", binary_weights=stage == "binary")])
        jits[stage] = jit
    n = len(features)
    outs: list[list[np.ndarray]] = []
    for lo in range(0, n, batch):
        chunk = features[lo:lo + batch].astype(np.float32)
        if len(chunk) < batch:
            chunk = np.concatenate([chunk, np.zeros((batch - len(chunk), *chunk.shape[1:]), np.float32)])
        res = jit(Tensor(chunk))
        outs.append([r.numpy()[:min(batch, n - lo)].copy() for r in res])
    if not outs:
        return []
    return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]


def normalized_entropy(logits: np.ndarray) -> np.ndarray:
    """H(softmax(logits)) / ln(classes) per row, in [0, 1]."""
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    h = -(p * np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0)).sum(axis=1)
    return np.clip(h / np.log(logits.shape[1]), 0.0, 1.0)


def early_exit(logits: list[np.ndarray], thresholds: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, exit index taken) per clip; thresholds has one value per early exit."""
    n = len(logits[0])
    taken = np.full(n, len(logits) - 1)
    done = np.zeros(n, bool)
    for i, t in enumerate(thresholds):
        stop = ~done & (normalized_entropy(logits[i]) <= t)
        taken[stop] = i
        done |= stop
    pred = np.stack([l.argmax(1) for l in logits])[taken, np.arange(n)]
    return pred, taken


def summarize(logits: list[np.ndarray], labels: np.ndarray, thresholds: list[float], macs_to_exit: list[int],
              names: Sequence[str] | None = None) -> dict:
    """The evaluation figures as one dict (the --json object); `names`: the class names (default LABELS)."""
    names = LABELS if names is None else names
    pred, taken = early_exit(logits, thresholds)
    correct = pred == labels
    exits = []
    for i in range(len(logits)):
        here = taken == i
        exits.append({"index": i, "fraction": float(here.mean()), "accuracy": float(correct[here].mean()) if here.any() else None,
                      "accuracy_if_all_stopped_here": float((logits[i].argmax(1) == labels).mean()),
                      "binary_macs": int(macs_to_exit[i])})
    per_class = {name: float(correct[labels == c].mean()) for c, name in enumerate(names) if (labels == c).any()}
    return {
        "accuracy": float(correct.mean()),
        "accuracy_full_depth": float((logits[-1].argmax(1) == labels).mean()),
        "n": int(len(labels)),
        "thresholds": [float(t) for t in thresholds],
        "exits": exits,
        "avg_binary_macs": float(np.mean(np.asarray(macs_to_exit)[taken])),
        "full_binary_macs": int(macs_to_exit[-1]),
        "per_class_accuracy": per_class,
    }


def calibrate_thresholds(logits: list[np.ndarray], labels: np.ndarray, macs_to_exit: list[int], max_drop_points: float,
                         step: float = 0.01, stream: tuple[list[np.ndarray], np.ndarray] | None = None) -> list[float]:
    """Per-early-exit thresholds with the least average compute whose accuracy is within `max_drop_points` of full depth.

    `stream`: (logits per exit, target labels) of stream windows as well; then the accuracy must hold on
    the clips and on the windows separately, and the compute is averaged over both sets together.
    Exhaustive over a grid of `step` (coarsened so the grid stays under ~10^4 points); ties go to the higher accuracy.
    """
    n_early = len(logits) - 1
    if n_early == 0:
        return []
    sets = [(logits, labels)] + ([stream] if stream is not None else [])
    entropy = [np.concatenate([normalized_entropy(ls[i]) for ls, _ in sets]) for i in range(n_early)]
    correct = np.stack([np.concatenate([ls[i].argmax(1) == y for ls, y in sets]) for i in range(n_early + 1)])
    parts = np.concatenate([np.full(len(y), k) for k, (_, y) in enumerate(sets)])
    need = [float(correct[-1][parts == k].mean()) - max_drop_points / 100.0 for k in range(len(sets))]
    n = len(parts)
    while (1.0 / step + 1) ** n_early > 1e4:
        step *= 2
    grid = np.round(np.arange(0.0, 1.0 + 1e-9, step), 4)
    macs = np.asarray(macs_to_exit, dtype=np.float64)
    best, best_key = [0.0] * n_early, None
    for combo in np.array(np.meshgrid(*[grid] * n_early, indexing="ij")).reshape(n_early, -1).T:
        taken = np.full(n, n_early)
        for i in range(n_early - 1, -1, -1):  # the first exit whose entropy is low enough wins
            taken[entropy[i] <= combo[i]] = i
        right = correct[taken, np.arange(n)]
        accs = [float(right[parts == k].mean()) for k in range(len(sets))]
        if any(a < nd for a, nd in zip(accs, need)):
            continue
        key = (float(macs[taken].mean()), -accs[0])
        if best_key is None or key < best_key:
            best, best_key = [float(t) for t in combo], key
    return best


def write_plots(logits: list[np.ndarray], labels: np.ndarray, thresholds: list[float], macs_to_exit: list[int], out: Path,
                names: Sequence[str]) -> list[Path]:
    """accuracy-vs-compute, confusion matrix and exit-per-class PNGs into `out` (`names`: the class names)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    sweep = []
    for t in np.linspace(0, 1, 41):
        pred, taken = early_exit(logits, [t] * (len(logits) - 1))
        sweep.append((np.mean(np.asarray(macs_to_exit)[taken]) / macs_to_exit[-1], (pred == labels).mean(), t))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([s[0] * 100 for s in sweep], [s[1] * 100 for s in sweep], marker=".")
    cur = summarize(logits, labels, thresholds, macs_to_exit, names)
    ax.plot([cur["avg_binary_macs"] / macs_to_exit[-1] * 100], [cur["accuracy"] * 100], "r*", markersize=12, label="checkpoint thresholds")
    ax.set_xlabel("average binary MACs (% of full depth)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy vs compute as the exit threshold sweeps 0..1")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    paths.append(out / "accuracy_vs_compute.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    pred, taken = early_exit(logits, thresholds)
    k = len(names)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (labels, pred), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(cm / np.maximum(cm.sum(1, keepdims=True), 1), cmap="Blues")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(k), names, rotation=60, fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (early exit at checkpoint thresholds)")
    fig.tight_layout()
    paths.append(out / "confusion_matrix.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    n_exits = len(logits)
    frac = np.zeros((k, n_exits))
    for c in range(k):
        if (labels == c).any():
            frac[c] = np.bincount(taken[labels == c], minlength=n_exits) / (labels == c).sum()
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = np.zeros(k)
    for e in range(n_exits):
        ax.bar(range(k), frac[:, e] * 100, bottom=bottom * 100, label=f"exit {e}")
        bottom += frac[:, e]
    ax.set_xticks(range(k), names, rotation=60, fontsize=8)
    ax.set_ylabel("% of clips")
    ax.set_title("which exit each class takes (sample difficulty)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "exit_per_class.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def print_exits(report: dict) -> None:
    """One line per exit: fraction of clips that stopped there and the accuracy there."""
    for e in report["exits"]:
        acc = "-" if e["accuracy"] is None else f"{e['accuracy'] * 100:.1f} %"
        print(f"  exit {e['index']}: {e['fraction'] * 100:5.1f} % of clips stop here, accuracy there {acc}")


def print_per_class(report: dict, names) -> None:
    """One line per class present in the report's `per_class_accuracy`, in the order of `names`."""
    for name in names:
        if name in report["per_class_accuracy"]:
            print(f"  {name:10} {report['per_class_accuracy'][name] * 100:5.1f} %")


def load_eval_clips(data: Path, names: Sequence[str], progress: bool):
    """Clips labelled by index into `names` (the checkpoint's labels): with the teacher's 12 labels a
    Speech Commands folder is read as such (test-set layout: all; full layout, the one with
    `testing_list.txt`: its test split); any other folder is a folder-per-class dataset whose folder
    names are among `names` (e.g. your own `yes/` and `no/`), every file of it evaluated."""
    if not data.is_dir():
        raise BitearError(f"{data}: data folder not found")
    if list(names) == list(LABELS) and (is_test_layout(data) or (data / "testing_list.txt").is_file()):
        clips = load_speech_commands(data, None if is_test_layout(data) else "test", progress=progress)
    else:
        ds = load_folder_dataset(data, progress=progress)
        unknown = [label for label in ds.labels if label not in names]
        if unknown:
            raise BitearError(f"dataset {data}: class folder(s) {unknown} are not labels of the checkpoint "
                              f"(expected folders among {list(names)})")
        remap = np.array([list(names).index(label) for label in ds.labels])
        clips = dataclasses.replace(ds.clips, labels=remap[ds.clips.labels])
    if len(clips) == 0:
        raise BitearError(f"{data}: no clips found")
    return clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("data", type=Path, help="Speech Commands folder (either layout), or a folder-per-class dataset of the checkpoint's labels")
    parser.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    parser.add_argument("--threshold", type=float, default=None, help="one exit threshold in [0, 1] for all early exits (default: the checkpoint's)")
    parser.add_argument("--full-depth", action="store_true", help="never exit early")
    parser.add_argument("--plots", type=Path, default=None, help="folder for PNG plots")
    parser.add_argument("--speakers", choices=("all", "train", "validation"), default="all",
                        help="only the training or validation speakers of the checkpoint's own speaker split (test-set layout)")
    args = parser.parse_args(argv)
    return run_cli(lambda: _run(args))


def _run(args) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise BitearError(f"--threshold must be in [0, 1], found {args.threshold}")
    student, meta = load_checkpoint(args.checkpoint)
    for warning in check_frontend(meta["frontend"], meta["config"], dict(FRONTEND_PARAMS), args.checkpoint):
        print(f"warning: {warning}", file=sys.stderr)
    names = list(meta["labels"])
    clips = load_eval_clips(args.data, names, progress=not args.json)
    if args.speakers != "all":
        split = meta.get("training", {}).get("config", {})
        if "val_fraction" not in split:
            raise BitearError(f"{args.checkpoint}: no training split in its metadata, --speakers {args.speakers} is not possible")
        train, val = clips.split_by_speaker(split["val_fraction"], salt=SPLIT_SALT)
        clips = val if args.speakers == "validation" else train
        if len(clips) == 0:
            raise BitearError(f"{args.data}: no clips of the checkpoint's {args.speakers} speakers")
    features = context_features(student.config, clips.audio, lambda a: features_cached(a, progress=not args.json))
    logits = exit_logits(student, features)
    n_early = len(logits) - 1
    if args.full_depth:
        thresholds = [-1.0] * n_early
    elif args.threshold is not None:
        thresholds = [args.threshold] * n_early
    else:
        thresholds = list(meta["exit_thresholds"])
    macs = student.binary_macs_to_exit()
    report = summarize(logits, clips.labels, thresholds, macs, names)
    report["checkpoint"] = str(args.checkpoint)
    report["data"] = str(args.data)
    if args.plots:
        report["plots"] = [str(p) for p in write_plots(logits, clips.labels, thresholds, macs, args.plots, names)]
    print(f"{report['n']} clips of {args.data}; thresholds {', '.join(f'{t:.2f}' for t in thresholds)}")
    print(f"accuracy {report['accuracy'] * 100:.2f} % (full depth {report['accuracy_full_depth'] * 100:.2f} %)")
    print(f"binary MACs: average {report['avg_binary_macs']:,.0f} of {report['full_binary_macs']:,} full depth "
          f"({report['avg_binary_macs'] / report['full_binary_macs'] * 100:.0f} %)")
    print_exits(report)
    print_per_class(report, names)
    if args.json:
        print(json_line(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
