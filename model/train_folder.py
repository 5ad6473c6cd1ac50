"""Train the binary student on any folder-per-class dataset: `python -m model.train --dataset DIR --out CKPT`.

The dataset (model.datasets.load_folder_dataset): one folder per label, optional `_silence_`,
`_unknown_` (classes the detector never reports) and `_background_noise_` (noise for augmentation;
without it the shared data's background_noise/ when present, else none). Labels are the folder names
(`_silence_`, `_unknown_` first, the rest sorted) and travel in the checkpoint.

Validation split: speaker-disjoint by sha1 of the speaker id (model.datasets.folder_speaker: the
id before `_nohash_`, or the middle of `{word}_{speaker}_{n}`, else the file itself): a speaker is
validation when sha1('bitear' + speaker) < 0.3 (TrainConfig.val_fraction); when that leaves a class
without clips on one side (e.g. few speakers), a seeded random 30 % of the clips.

Loss: when the labels are not the teacher's 12, cross-entropy on the labels at every exit (no
logit distillation, no teacher mixes, no stream windows); when they are the teacher's (any folder
order), the distillation of model.distill applies (teacher logits, log-domain mixes), without
the synthetic-stream windows. `--test-dataset DIR` (labels among the training labels: a test set
without `_silence_` is fine) is scored after training and its figures stored in the checkpoint. `--init BACKBONE` starts the stem and blocks from a backbone of
`python -m model.pretrain` (representation distillation) and trains the whole network.
`--synthetic-voices N` adds N clips per class of its folder name spoken by the synthetic English
voices of model.synth (espeak-ng accents and variants, flite, festival; speed and pitch drawn per clip): more
speakers than a small dataset has. `_silence_`/`_unknown_` get none. The voices are split like
speakers (sha1 rule above): clips of validation voices join the validation side, so the exit
thresholds are calibrated on voices the network never trained on.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from model.checkpoint import save_checkpoint
from model.datasets import LABELS, ClipSet, FolderDataset, load_folder_dataset, shared_background_noise
from model.datasets import SPLIT_SALT
from model.errors import BitearError
from model.evaluate import calibrate_thresholds, early_exit, exit_logits
from model.feature_cache import features_cached
from model.frontend import FRONTEND_PARAMS
from model.paths import cache_dir
from model.pretrain import load_backbone
from model.student import DEFAULT_CONFIG, BinaryStudent, format_cost_table
from model.synth import ENGINES, english_voices, synthesize_words
from model.teacher import Teacher
from model.teacher_cache import teacher_logits_cached
from model.distill import Pool, augment_copies, build_pool, distill, teacher_function


def split(clips: ClipSet, fraction: float, seed: int) -> tuple[ClipSet, ClipSet, str]:
    """(train, validation, the rule used): speaker-disjoint, else seeded per clip (module docstring)."""
    train, val = clips.split_by_speaker(fraction, salt=SPLIT_SALT)
    classes = set(clips.labels.tolist())
    if set(train.labels.tolist()) == classes == set(val.labels.tolist()):
        return train, val, f"speaker-disjoint: sha1('{SPLIT_SALT}' + speaker) < {fraction:.2f}"
    is_val = np.zeros(len(clips), bool)
    is_val[np.random.default_rng([seed, 5]).permutation(len(clips))[:max(1, int(round(fraction * len(clips))))]] = True
    return clips.subset(~is_val), clips.subset(is_val), f"seeded per clip (seed {seed}), {fraction:.2f}"


def synthetic_clips(labels: list[str], per_class: int, seed: int, progress: bool) -> ClipSet:
    """`per_class` synthetic clips of every label that is a word (not `_silence_`/`_unknown_`): the
    folder name is the text (`_` and `-` read as spaces); labels index into `labels`."""
    texts = {label.replace("_", " ").replace("-", " ").strip(): label for label in labels if not label.startswith("_")}
    clips = synthesize_words(list(texts), per_class, seed, voices={e: english_voices(e) for e in ENGINES}, progress=progress)
    return dataclasses.replace(clips, labels=np.array([labels.index(texts[w]) for w in clips.words], np.int64))


def scores(logits: list[np.ndarray], labels: np.ndarray, thresholds: list[float], names: list[str]) -> dict:
    """Accuracy at the thresholds and at full depth, per class, exits taken."""
    pred, taken = early_exit(logits, thresholds)
    correct = pred == labels
    return {"n": int(len(labels)), "accuracy": float(correct.mean()),
            "accuracy_full_depth": float((logits[-1].argmax(1) == labels).mean()),
            "per_class_accuracy": {n: float(correct[labels == c].mean()) for c, n in enumerate(names) if (labels == c).any()},
            "exits_taken": [float((taken == i).mean()) for i in range(len(logits))]}


def _noise(ds: FolderDataset):
    if ds.noise is not None:
        return ds.noise
    try:
        return shared_background_noise()
    except BitearError:
        return None


def run(args, cfg) -> int:
    """model.train's --dataset path (args: its parsed options; cfg: the recipe's TrainConfig)."""
    progress = not args.no_progress
    t_start = time.perf_counter()
    ds = load_folder_dataset(args.dataset, clips_per_class=args.clips_per_class, seed=cfg.seed, progress=progress)
    print(f"dataset {args.dataset}: {ds.report()}")
    test = None
    if args.test_dataset is not None:
        test = load_folder_dataset(args.test_dataset, seed=cfg.seed, progress=progress)
        extra = [label for label in test.labels if label not in ds.labels]
        if extra:
            raise BitearError(f"--test-dataset {args.test_dataset}: class folder(s) {extra} are not labels of the "
                              f"training dataset {ds.labels}")
        print(f"test dataset {args.test_dataset}: {test.report()}")
    teacher_words = set(ds.labels) == set(LABELS)
    labels = list(LABELS) if teacher_words else ds.labels
    remap = np.array([labels.index(n) for n in ds.labels])
    clips = dataclasses.replace(ds.clips, labels=remap[ds.clips.labels])
    train, val, rule = split(clips, cfg.val_fraction, cfg.seed)
    print(f"split ({rule}): {len(train)} training clips, {len(val)} validation clips")
    if args.synthetic_voices:
        synthetic = synthetic_clips(labels, args.synthetic_voices, cfg.seed, progress)
        synthetic_train, synthetic_val = synthetic.split_by_speaker(cfg.val_fraction, salt=SPLIT_SALT)
        train, val = ClipSet.concat([train, synthetic_train]), ClipSet.concat([val, synthetic_val])
        print(f"synthetic voices: {len(synthetic)} clips ({args.synthetic_voices} per class, {len(set(synthetic.speakers))} voices): "
              f"{len(synthetic_train)} training, {len(synthetic_val)} validation (voices split like speakers)")
    config = dict(cfg.config or DEFAULT_CONFIG, classes=len(labels))
    cfg = dataclasses.replace(cfg, config=config, stream_windows=0, val_stream_windows=0,
                              **({} if teacher_words else {"kd_weight": 0.0, "mix_fraction": 0.0}))
    print(format_cost_table(BinaryStudent(config)))
    noise = _noise(ds)
    features = lambda a: features_cached(a, progress=progress)
    teacher = None
    if teacher_words:
        teacher = Teacher.load()
        pool = build_pool(cfg, train, noise, lambda a: teacher_logits_cached(a, teacher=teacher, progress=progress),
                          features, None, progress)
    else:
        audio, y, srcs = augment_copies(np.random.default_rng([cfg.seed, 1]), train, cfg.copies, noise, cfg.vtlp)
        pool = Pool(features(audio), np.zeros((len(y), len(labels)), np.float32), y, srcs)
    val_features = features(val.audio)
    init_sha = hashlib.sha256(Path(args.init).read_bytes()).hexdigest() if args.init is not None else None
    key = hashlib.sha1(json.dumps([dataclasses.asdict(cfg), labels, sorted(clips.paths), init_sha,
                                   args.synthetic_voices]).encode()).hexdigest()[:12]
    state_dir = cache_dir("train", f"{args.out.stem}-folder-{key}")
    init = None
    if args.init is not None:
        init = lambda student: load_backbone(args.init, student)
        load_backbone(args.init, BinaryStudent(config))  # a bad file fails now, not after the pool
    student, history = distill(cfg, pool, val_features, val.labels, state_dir, args.resume, progress,
                               teacher_from_mfcc=teacher_function(teacher) if teacher is not None else None, init=init)
    macs = student.binary_macs_to_exit()
    logits = exit_logits(student, val_features)
    thresholds = calibrate_thresholds(logits, val.labels, macs, cfg.calibration_drop)
    validation = scores(logits, val.labels, thresholds, labels)
    metadata = {
        "labels": labels, "frontend": FRONTEND_PARAMS, "exit_thresholds": thresholds,
        "data": {"dataset": str(args.dataset), "clips": len(clips), "adjusted": ds.adjusted,
                 "clips_per_class": args.clips_per_class, "synthetic_voices": args.synthetic_voices, "split": rule,
                 "train_clips": len(train),
                 "validation_clips": len(val), "pool_clips": int(len(pool.labels))},
        "init": {"backbone": str(args.init), "sha256": init_sha} if args.init is not None else None,
        "training": {"config": dataclasses.asdict(cfg), "loss": "distillation" if teacher_words else "cross-entropy",
                     "history": history, "seconds": round(time.perf_counter() - t_start),
                     "command": "python -m model.train " + " ".join(sys.argv[1:])},
        "validation": validation,
    }
    if teacher is not None:
        metadata["teacher_sha256"] = teacher.sha256
    print("validation: " + json.dumps({k: validation[k] for k in ("n", "accuracy", "accuracy_full_depth")}))
    if test is not None:
        test_labels = np.array([labels.index(name) for name in test.labels])[test.clips.labels]
        metadata["test"] = scores(exit_logits(student, features(test.clips.audio)), test_labels, thresholds, labels)
        metadata["test"]["dataset"] = str(args.test_dataset)
        print("test: " + json.dumps({k: metadata["test"][k] for k in ("n", "accuracy", "accuracy_full_depth", "exits_taken")}))
    save_checkpoint(args.out, student, metadata)
    print(f"thresholds {thresholds}; wrote {args.out} ({len(labels)} classes: {', '.join(labels)}) "
          f"after {(time.perf_counter() - t_start) / 60:.1f} min")
    return 0


def check_dataset_args(args) -> None:
    """--clips-per-class, --test-dataset, --init and --synthetic-voices belong to --dataset."""
    if args.dataset is None and (args.clips_per_class is not None or args.test_dataset is not None or args.init is not None
                                 or args.synthetic_voices):
        raise BitearError("--clips-per-class, --test-dataset, --init and --synthetic-voices need --dataset DIR")
    if args.clips_per_class is not None and args.clips_per_class < 1:
        raise BitearError(f"--clips-per-class: expected >= 1, found {args.clips_per_class}")
    if args.synthetic_voices < 0:
        raise BitearError(f"--synthetic-voices: expected >= 0, found {args.synthetic_voices}")
    if args.dataset is not None and not Path(args.dataset).is_dir():
        raise BitearError(f"--dataset {args.dataset}: not a folder (one sub-folder per label)")
