"""Distil the binary student from the DS-CNN-L teacher: `python -m model.train [options]`.

Recipe (Brillsson-style distillation; early-exit heads trained jointly):
1. Sources: the speaker-disjoint train part of speech_commands_v2_dev, speech_commands_v1_sample,
   FSDD (train split), synthetic speech of the ten keywords and of other words (espeak-ng,
   flite), and background noise as `_silence_`.
2. A fixed pool of augmented copies of every source clip (speed/pitch, time shift, gain, noise at
   a random SNR). The teacher labels every copy once; the C front end computes the student's
   int8 features once. The pool is cached on disk, keyed by everything that makes it.
3. Training: per exit, T^2 * KL(teacher_T || student_T) + CE with the known label; half of every
   batch is replaced by log-domain mixes of two pool clips that the teacher labels on the fly
   (function matching on inputs no recording holds: +1.4 points on the validation speakers);
   Adam with a cosine schedule, latent weights clipped to [-1, 1]. Optional: a hint loss (every
   exit also regresses the teacher's 276 pooled features through a linear map used only in
   training), SpecAugment masks, a staged schedule (real-valued -> binary activations -> binary
   weights), a cepstral stem.
4. Per-exit entropy thresholds calibrated on the validation speakers: the least average compute
   whose accuracy stays within 0.95 points of full depth (`model.calibrate` redoes this step).

Fixed seeds; `--resume` continues from the last finished epoch. Knobs are command-line options;
`model.ablation` runs short probes of them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model import augment
from model.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint
from model.datasets import KEYWORDS, LABELS, BackgroundNoise, ClipSet
from model.errors import BitearError, run_cli
from model.mfcc import mfcc
from model.evaluate import SPLIT_SALT, calibrate_thresholds, exit_logits, summarize
from model.paths import cache_dir, data_dir

# Words that are not keywords, spoken by the synthetic voices: the other Speech Commands words and some more.
OTHER_WORDS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine", "one",
               "seven", "sheila", "six", "three", "tree", "two", "wow", "zero", "backward", "forward", "follow",
               "learn", "visual", "hello", "yellow", "dune", "top", "oven", "ups", "town", "nope", "yesterday",
               "left-hand", "right now", "going", "stopping", "often", "under")


@dataclass
class TrainConfig:
    seed: int = 1234
    epochs: int = 40
    batch: int = 128
    lr: float = 1e-2
    weight_decay: float = 0.0
    temperature: float = 2.0
    kd_weight: float = 0.7          # loss = kd_weight * KD + (1 - kd_weight) * CE
    exit_weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    stages: tuple[str, ...] = ("binary",)   # sequence of "real", "binact", "binary"; epochs split evenly
    copies: int = 6                  # augmented copies per source clip (the first is the clean clip)
    val_fraction: float = 0.3
    tts_keyword_variants: int = 60
    tts_other_variants: int = 12
    fsdd_clips: int = 600
    silence_clips: int = 400
    spec_time_masks: int = 0
    spec_freq_masks: int = 0
    mix_fraction: float = 0.5        # share of every batch replaced by log-domain mixes of two pool clips, labelled by the teacher
    stem_cepstra: int = 0            # >0: keep the stem's weights in the span of the first K DCT-II vectors over the mel bins
    hint_weight: float = 0.0         # >0: every exit also regresses the teacher's 276 pooled features (standardized), MSE
    calibration_drop: float = 0.95   # percentage points of accuracy the early exits may lose (issue bar: 1)
    config: dict = field(default_factory=dict)  # student config; empty = DEFAULT_CONFIG

    def pool_key(self, teacher_sha: str, frontend_hash: str) -> str:
        fields = [self.seed, self.copies, self.val_fraction, self.tts_keyword_variants, self.tts_other_variants,
                  self.fsdd_clips, self.silence_clips, teacher_sha, frontend_hash, POOL_VERSION]
        return hashlib.sha1(json.dumps(fields).encode()).hexdigest()[:16]


POOL_VERSION = 2  # 2: the pool keeps the teacher's MFCC of every clip (for mixes labelled on the fly)


@dataclass
class Pool:
    """Precomputed training material: int8 features, teacher logits, hard labels."""
    features: np.ndarray   # (N, 49, 40) int8
    teacher: np.ndarray    # (N, 12) float32
    labels: np.ndarray     # (N,) int64
    sources: np.ndarray    # (N,) str
    mfcc: np.ndarray | None = None  # (N, 49, 10) float32 teacher input, when mixes are to be labelled


def augment_copies(rng: np.random.Generator, clips: ClipSet, copies: int, noise: BackgroundNoise | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`copies` versions of every clip: the clean clip, then random speed/shift/gain/noise versions."""
    out, labels, sources = [], [], []
    for i in range(len(clips)):
        x = clips.audio[i]
        for c in range(copies):
            y = x
            if c > 0:
                if clips.labels[i] != 0 and rng.random() < 0.6:
                    y = augment.speed_perturb(rng, y, (0.85, 1.15))
                y = augment.time_shift(rng, y, 1600)
                y = augment.random_gain(rng, y, (-12.0, 6.0))
                if noise is not None and rng.random() < 0.8:
                    y, _ = augment.add_noise(rng, y, noise.segment(rng, len(y)), (0.0, 25.0))
            out.append(y)
            labels.append(clips.labels[i])
            sources.append(clips.sources[i])
    return np.stack(out), np.array(labels, np.int64), np.array(sources)


def load_sources(cfg: TrainConfig, root: Path, progress: bool = True) -> tuple[ClipSet, ClipSet, BackgroundNoise]:
    """(train sources, validation clips, background noise) from the data folder and the speech synthesizers."""
    from model.datasets import load_fsdd, load_speech_commands, noise_silence_clips
    from model.synth import english_voices, synthesize_words

    rng = np.random.default_rng(cfg.seed)
    dev = load_speech_commands(root / "speech_commands_v2_dev", progress=progress)
    train_dev, val = dev.split_by_speaker(cfg.val_fraction, salt=SPLIT_SALT)
    noise = BackgroundNoise.load(root / "background_noise", progress=progress)
    parts = [train_dev]
    if (root / "speech_commands_v1_sample").is_dir():
        parts.append(load_speech_commands(root / "speech_commands_v1_sample", "train", progress=progress))
    if cfg.fsdd_clips and (root / "fsdd").is_dir():
        fsdd = load_fsdd(root / "fsdd", "train", progress=progress)
        parts.append(fsdd.subset(rng.permutation(len(fsdd))[: cfg.fsdd_clips]))
    if cfg.tts_keyword_variants:
        # English voices only: the teacher recognises keywords said by foreign-language voices poorly (39 %)
        english = {e: english_voices(e) for e in ("espeak-ng", "flite")}
        parts.append(synthesize_words(KEYWORDS, cfg.tts_keyword_variants, cfg.seed, voices=english, progress=progress))
    if cfg.tts_other_variants:
        parts.append(synthesize_words(OTHER_WORDS, cfg.tts_other_variants, cfg.seed, progress=progress))
    parts.append(noise_silence_clips(rng, cfg.silence_clips, noise))
    return ClipSet.concat(parts), val, noise


def build_pool(cfg: TrainConfig, sources: ClipSet, noise: BackgroundNoise | None, teacher_logits, features_of,
               key: str | None, progress: bool = True) -> Pool:
    """Augment, label with the teacher and extract features; cached under cache_dir('pools') when `key` is given."""
    path = cache_dir("pools") / f"{key}.npz" if key else None
    if path is not None and path.is_file():
        with np.load(path) as z:
            return Pool(z["features"], z["teacher"], z["labels"], z["sources"], z["mfcc"])
    rng = np.random.default_rng([cfg.seed, 1])
    t0 = time.perf_counter()
    audio, labels, srcs = augment_copies(rng, sources, cfg.copies, noise)
    t1 = time.perf_counter()
    feats = features_of(audio)
    t2 = time.perf_counter()
    logits = teacher_logits(audio)
    teacher_input = mfcc(audio)
    t3 = time.perf_counter()
    if progress:
        print(f"pool: {len(audio)} clips; augment {t1 - t0:.0f} s, features {t2 - t1:.0f} s, teacher {t3 - t2:.0f} s")
    pool = Pool(feats, logits.astype(np.float32), labels, srcs, teacher_input.astype(np.float32))
    if path is not None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, features=pool.features, teacher=pool.teacher, labels=pool.labels, sources=pool.sources,
                 mfcc=pool.mfcc)
        tmp.replace(path)
    return pool


def cepstral_projection(bins: int, k: int) -> np.ndarray:
    """(bins, bins) projection onto the span of the first k orthonormal DCT-II vectors over the mel bins.

    A stem kept in this span sees only the smooth spectral envelope (like the first k MFCCs), not the
    pitch harmonics that resolve in the narrow low mel bands: a prior against learning the speaker.
    """
    n = np.arange(bins)
    d = np.cos(np.pi / bins * np.arange(k)[:, None] * (n[None, :] + 0.5)) * np.sqrt(2.0 / bins)
    d[0] /= np.sqrt(2.0)
    return (d.T @ d).astype(np.float32)


def project_stem(weight, projection):
    """Stem weight (C, bins, 1, k) with its bin axis projected by `projection` (bins, bins)."""
    c, b, _, k = weight.shape
    w = weight.permute(0, 2, 3, 1).reshape(c * k, b) @ projection
    return w.reshape(c, 1, k, b).permute(0, 3, 1, 2)


def cosine_lr(base: float, step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return 0.5 * base * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def teacher_function(teacher, cfg: TrainConfig):
    """The MFCC -> teacher outputs function `distill` expects for this config (numpy port: fastest here)."""
    if cfg.hint_weight > 0:
        return teacher.logits_and_embedding
    return lambda m: teacher.logits_from_features(m, backend="numpy")


def distill(cfg: TrainConfig, pool: Pool, val_features: np.ndarray, val_labels: np.ndarray, state_dir: Path,
            resume: bool = False, progress: bool = True, log=print, teacher_from_mfcc=None):
    """Train a BinaryStudent on the pool; returns (student, history). Resumable from `state_dir`.

    teacher_from_mfcc: (N, 49, 10) MFCC -> (N, 12) teacher logits, needed when `cfg.mix_fraction` > 0;
    with `cfg.hint_weight` > 0 it must return (logits, (N, D) pooled teacher features) instead."""
    from tinygrad import Context, Tensor, TinyJit, nn
    from tinygrad.nn.optim import Adam
    from tinygrad.nn.state import get_state_dict, safe_load, safe_save, load_state_dict
    from tqdm import tqdm

    from model.student import BinaryStudent

    Tensor.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, 2])
    student = BinaryStudent(cfg.config or None)
    n_exits = len(student.heads)
    exit_w = list(cfg.exit_weights)[:n_exits] + [1.0] * max(0, n_exits - len(cfg.exit_weights))
    hinting = cfg.hint_weight > 0
    if hinting:
        if pool.mfcc is None or teacher_from_mfcc is None:
            raise ValueError("hint_weight > 0 needs the pool's teacher MFCC and a teacher_from_mfcc function")
        _, pool_embedding = teacher_from_mfcc(pool.mfcc)
        emb_mean, emb_std = pool_embedding.mean(axis=0), pool_embedding.std(axis=0) + 1e-3
        pool_hint = ((pool_embedding - emb_mean) / emb_std).astype(np.float32)
    # training-only linear regressors from each exit's pooled map to the teacher's features (not exported)
    regressors = [nn.Linear(h.weight.shape[1], pool_hint.shape[1]) for h in student.heads] if hinting else []
    params = student.parameters() + [t for r in regressors for t in (r.weight, r.bias)]
    opt = Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay) if cfg.weight_decay else Adam(params, lr=cfg.lr)
    trained = {"student": student, "opt": opt, **({"hint": regressors} if hinting else {})}
    state_path = state_dir / "train_state.safetensors"
    history: list[dict] = []
    start_epoch = 0
    if resume and state_path.is_file():
        load_state_dict(trained, safe_load(str(state_path)), verbose=False)
        meta = json.loads((state_dir / "train_state.json").read_text())
        start_epoch, history = meta["epoch"], meta["history"]
        rng = np.random.default_rng([cfg.seed, 2, start_epoch])
        log(f"resumed after epoch {start_epoch}")
    for t in get_state_dict(trained).values():
        t.realize()

    stem_projection = Tensor(cepstral_projection(student.config["bins"], cfg.stem_cepstra)) if cfg.stem_cepstra else None
    if stem_projection is not None:
        student.stem.weight.assign(project_stem(student.stem.weight, stem_projection)).realize()
    T = cfg.temperature
    teacher_soft = pool.teacher / T

    def loss_fn(x: Tensor, t_logits: Tensor, y: Tensor, hint: Tensor | None, stage: str) -> Tensor:
        outs = student.exits(x, binary_act=stage != "real", binary_weights=stage == "binary")
        p_t = (t_logits).softmax(axis=-1)
        log_p_t = (t_logits).log_softmax(axis=-1)
        total = None
        for i, (w, (mean, o)) in enumerate(zip(exit_w, outs)):
            kd = (p_t * (log_p_t - (o / T).log_softmax(axis=-1))).sum(axis=-1).mean() * (T * T)
            ce = o.sparse_categorical_crossentropy(y)
            term = (cfg.kd_weight * kd + (1 - cfg.kd_weight) * ce) * w
            if hint is not None:
                term = term + cfg.hint_weight * w * (regressors[i](mean) - hint).square().mean()
            total = term if total is None else total + term
        return total

    def make_step(stage: str):
        def step(x: Tensor, t_logits: Tensor, y: Tensor, *hint: Tensor) -> Tensor:
            opt.zero_grad()
            loss = loss_fn(x, t_logits, y, hint[0] if hint else None, stage)
            loss.backward()
            updates = opt.schedule_step()  # first: the clip and projection below must act on the updated weights
            constrained = [w.assign(w.detach().clip(-1.0, 1.0)) for w in student.latent_weights()]
            if stem_projection is not None:
                constrained.append(student.stem.weight.assign(project_stem(student.stem.weight.detach(), stem_projection)))
            return loss.realize(*updates, *constrained, *student.running_statistics())
        return TinyJit(step)

    mixing = cfg.mix_fraction > 0
    if mixing and (pool.mfcc is None or teacher_from_mfcc is None):
        raise ValueError("mix_fraction > 0 needs the pool's teacher MFCC and a teacher_from_mfcc function")

    def make_batch(idx: np.ndarray) -> tuple[np.ndarray, ...]:
        """(features, teacher logits / T, hard labels[, standardized teacher features]) of one batch."""
        feats, soft, hard = pool.features[idx].astype(np.float32), teacher_soft[idx], pool.labels[idx]
        hint = pool_hint[idx] if hinting else None
        if mixing:
            # Log-domain mixup: the student's log-mel features and the teacher's MFCC (linear in log-mel) of two
            # clips are mixed with the same weight, so both networks see the same blend; the teacher labels it.
            m = int(round(cfg.mix_fraction * len(idx)))
            partner = rng.integers(0, len(pool.labels), m)
            lam = rng.uniform(0.0, 1.0, (m, 1, 1)).astype(np.float32)
            feats[:m] = np.round(lam * feats[:m] + (1 - lam) * pool.features[partner])
            mixed = teacher_from_mfcc(lam * pool.mfcc[idx[:m]] + (1 - lam) * pool.mfcc[partner])
            if hinting:
                mixed, embedding = mixed
                hint[:m] = (embedding - emb_mean) / emb_std
            soft[:m], hard[:m] = mixed / T, mixed.argmax(axis=1)
        # masks are filled with the batch's mean value: the front end's floor (-128, digital silence) never
        # occurs in real audio, and filling with it skewed the batch-norm statistics (val accuracy 44 % -> 22 %)
        feats = augment.spec_augment(rng, feats, float(np.round(feats.mean())), cfg.spec_time_masks, 8, cfg.spec_freq_masks, 6)
        return (feats, soft, hard, hint) if hinting else (feats, soft, hard)

    steps = {s: make_step(s) for s in dict.fromkeys(cfg.stages)}
    n = len(pool.labels)
    per_epoch = n // cfg.batch
    total_steps = per_epoch * cfg.epochs
    for epoch in range(start_epoch, cfg.epochs):
        stage = cfg.stages[min(len(cfg.stages) - 1, epoch * len(cfg.stages) // cfg.epochs)]
        order = rng.permutation(n)
        t0, losses = time.perf_counter(), []
        bar = tqdm(range(per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs} [{stage}]", disable=not progress, leave=False)
        batches = (order[b * cfg.batch:(b + 1) * cfg.batch] for b in range(per_epoch))
        # batches are prepared (masks, mixes labelled by the teacher) one ahead in a worker thread while tinygrad
        # trains; the worker alone draws from `rng`, in batch order, so a seed still fixes everything
        with ThreadPoolExecutor(max_workers=1) as worker:
            pending = worker.submit(make_batch, next(batches))
            for b in bar:
                batch = pending.result()
                if b + 1 < per_epoch:
                    pending = worker.submit(make_batch, next(batches))
                lr = cosine_lr(cfg.lr, epoch * per_epoch + b, total_steps, warmup=min(300, total_steps // 10 + 1))
                opt.lr.assign(Tensor([lr], dtype=opt.lr.dtype)).realize()
                with Context(TRAINING=1):
                    loss = steps[stage](*(Tensor(a) for a in batch))
                losses.append(loss.item())
                if b % 20 == 0:
                    bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        logits = exit_logits(student, val_features, stage=stage)
        accs = [float((l.argmax(1) == val_labels).mean()) for l in logits]
        record = {"epoch": epoch + 1, "stage": stage, "loss": float(np.mean(losses)), "val_exit_accuracy": accs,
                  "seconds": time.perf_counter() - t0}
        history.append(record)
        log(f"epoch {epoch + 1:3d} [{stage}] loss {record['loss']:.4f} val acc per exit "
            + " ".join(f"{a * 100:.1f}" for a in accs) + f"  ({record['seconds']:.0f} s)")
        state_dir.mkdir(parents=True, exist_ok=True)
        safe_save({k: v.contiguous() for k, v in get_state_dict(trained).items()}, str(state_path))
        (state_dir / "train_state.json").write_text(json.dumps({"epoch": epoch + 1, "history": history}))
    return student, history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="data folder (default: $BITEAR_DATA or ../shared/data)")
    parser.add_argument("--out", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint to write")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--copies", type=int, default=TrainConfig.copies)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--kd-weight", type=float, default=TrainConfig.kd_weight)
    parser.add_argument("--temperature", type=float, default=TrainConfig.temperature)
    parser.add_argument("--mix-fraction", type=float, default=TrainConfig.mix_fraction,
                        help="share of every batch replaced by log-domain mixes of two clips, labelled by the teacher on the fly")
    parser.add_argument("--hint-weight", type=float, default=TrainConfig.hint_weight,
                        help="weight of the loss regressing the teacher's pooled features from every exit (0: off)")
    parser.add_argument("--stages", default=",".join(TrainConfig.stages), help="comma list of real,binact,binary")
    parser.add_argument("--tts-keyword-variants", type=int, default=TrainConfig.tts_keyword_variants)
    parser.add_argument("--tts-other-variants", type=int, default=TrainConfig.tts_other_variants)
    parser.add_argument("--config", type=Path, default=None, help="student config JSON (default: model.student.DEFAULT_CONFIG)")
    parser.add_argument("--resume", action="store_true", help="continue from the last finished epoch in the state folder")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    return run_cli(lambda: _run(args), interrupted="interrupted: rerun with --resume to continue from the last finished epoch")


def _run(args) -> int:
    from model.frontend import FRONTEND_PARAMS
    from model.feature_cache import features_cached
    from model.student import BinaryStudent, format_cost_table
    from model.teacher import Teacher
    from model.teacher_cache import teacher_logits_cached

    root = args.data or data_dir()
    if root is None or not (root / "speech_commands_v2_dev").is_dir():
        raise BitearError(f"training needs the data folder with speech_commands_v2_dev/ (found {root}); set BITEAR_DATA or pass --data")
    cfg = TrainConfig(seed=args.seed, epochs=args.epochs, batch=args.batch, lr=args.lr, kd_weight=args.kd_weight,
                      temperature=args.temperature, stages=tuple(s.strip() for s in args.stages.split(",")),
                      copies=args.copies, mix_fraction=args.mix_fraction, hint_weight=args.hint_weight, tts_keyword_variants=args.tts_keyword_variants,
                      tts_other_variants=args.tts_other_variants,
                      config=json.loads(args.config.read_text()) if args.config else {})
    for s in cfg.stages:
        if s not in ("real", "binact", "binary"):
            raise BitearError(f"--stages: unknown stage {s!r} (expected real, binact, binary)")
    progress = not args.no_progress
    t_start = time.perf_counter()
    print(format_cost_table(BinaryStudent(cfg.config or None)))
    teacher = Teacher.load(root / "teacher_ds_cnn_l")
    sources, val, noise = load_sources(cfg, root, progress)
    print(f"sources: {len(sources)} clips {sources.counts()}; validation: {len(val)} clips of {len(set(val.speakers))} speakers")
    features = lambda a: features_cached(a, progress=progress)
    key = cfg.pool_key(teacher.sha256, str(FRONTEND_PARAMS["source_hash"]))
    # teacher logits per clip are cached on disk (the tinygrad model of record; the numpy port agrees to ~1e-5)
    teacher_logits = lambda a: teacher_logits_cached(a, teacher=teacher, progress=progress)
    pool = build_pool(cfg, sources, noise, teacher_logits, features, key, progress)
    val_features = features(val.audio)
    teacher_val = teacher_logits(val.audio)
    teacher_acc = float((teacher_val.argmax(1) == val.labels).mean())
    print(f"pool ready: {len(pool.labels)} clips ({time.perf_counter() - t_start:.0f} s); teacher on validation {teacher_acc * 100:.2f} %")
    state_dir = cache_dir("train", args.out.stem + "-" + key + "-" + hashlib.sha1(json.dumps(asdict(cfg), sort_keys=True).encode()).hexdigest()[:8])
    student, history = distill(cfg, pool, val_features, val.labels, state_dir, args.resume, progress,
                               teacher_from_mfcc=teacher_function(teacher, cfg))
    logits = exit_logits(student, val_features)
    thresholds = calibrate_thresholds(logits, val.labels, student.binary_macs_to_exit(), cfg.calibration_drop)
    report = summarize(logits, val.labels, thresholds, student.binary_macs_to_exit())
    elapsed = time.perf_counter() - t_start
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
        "validation": {"accuracy": report["accuracy"], "accuracy_full_depth": report["accuracy_full_depth"],
                       "teacher_accuracy": teacher_acc},
    }
    save_checkpoint(args.out, student, metadata)
    print(json.dumps({k: report[k] for k in ("accuracy", "accuracy_full_depth", "avg_binary_macs", "full_binary_macs")}))
    print(f"thresholds {thresholds}; exits " + ", ".join(
        f"{e['index']}: {e['fraction'] * 100:.0f} %" + (f" at {e['accuracy'] * 100:.1f} %" if e["accuracy"] is not None else "")
        for e in report["exits"]))
    print(f"wrote {args.out} after {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
