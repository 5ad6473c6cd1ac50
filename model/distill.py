"""The distillation recipe: how the binary student learns from the DS-CNN-L teacher (the command is
`python -m model.train`; `model.train_folder` and `model.pretrain` reuse these pieces).

Recipe (Brillsson-style distillation; early-exit heads trained jointly):
1. Sources: the speaker-disjoint train part of speech_commands_v2_dev, speech_commands_v1_sample,
   FSDD (train split), synthetic speech of the ten keywords and of other words (espeak-ng,
   flite), and background noise as `_silence_`.
2. A fixed pool of augmented copies of every source clip (speed/pitch, time shift, gain, noise at
   a random SNR). The teacher labels every copy once; the C front end computes the student's
   int8 features once. The pool is cached on disk, keyed by everything that makes it.
   Besides, 1 s windows cut at random offsets from synthetic streams of the same sources
   (`model.streams`: words with neighbours, partial words at the edges, gaps of noise), labelled by
   the teacher on exactly that audio, so the student learns the stream, not only centred clips.
3. Training: per exit, T^2 * KL(teacher_T || student_T) + CE with the known label (for stream
   windows and mixes: the teacher's top class); half of every batch is replaced by log-domain mixes
   of two pool clips that the teacher labels on the fly (function matching on inputs no recording
   holds); Adam with a cosine schedule, latent weights clipped to [-1, 1].
4. Per-exit entropy thresholds calibrated on the validation speakers' clips and stream windows: the
   least average compute whose accuracy stays within 0.95 points of full depth on both
   (`model.calibrate` redoes this step).

Fixed seeds; `--resume` continues from the last finished epoch. The recipe's knobs are the fields of
`TrainConfig`, one command-line option each (`RECIPE_OPTIONS`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model import augment
from model.datasets import BackgroundNoise, ClipSet, KEYWORDS, load_fsdd, load_speech_commands, noise_silence_clips
from model.datasets import SPLIT_SALT, VAL_FRACTION
from model.errors import BitearError
from model.evaluate import exit_logits
from model.facts import CLIP_SAMPLES, FRAMES, OTHER_WORDS
from model.labels import SILENCE_LABEL
from model.mfcc import mfcc
from model.paths import cache_dir
from model.streams import CONTEXT_SEED, clip_features, clips_in_context, features_in_context, stream_windows
from model.student import DEFAULT_CONFIG, BinaryStudent, input_frames, validate_config
from model.synth import RECIPE_ENGINES, english_voices, synthesize_words

@dataclass
class TrainConfig:
    seed: int = 1234
    epochs: int = 30
    batch: int = 128
    lr: float = 1e-2
    temperature: float = 2.0
    kd_weight: float = 0.7          # loss = kd_weight * KD + (1 - kd_weight) * CE
    exit_weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    precision: str = "binary"        # "real": the diagnostic network without any binarization (not deployable)
    copies: int = 4                  # augmented copies per source clip (the first is the clean clip)
    val_fraction: float = VAL_FRACTION
    tts_keyword_variants: int = 60
    tts_other_variants: int = 12
    fsdd_clips: int = 600
    silence_clips: int = 400
    stream_windows: int = 24000      # 1 s windows cut from synthetic streams of the training sources (model.streams)
    val_stream_windows: int = 2400   # the same from the validation speakers: calibration and reports
    mix_fraction: float = 0.5        # share of every batch replaced by log-domain mixes of two pool clips, labelled by the teacher
    vtlp: float = 0.5                # share of the augmented copies of recorded speech warped by VTLP first (model.augment)
    calibration_drop: float = 0.95   # percentage points of accuracy the early exits may lose (the bar: 1)
    config: dict = field(default_factory=dict)  # student config; empty = DEFAULT_CONFIG

    def pool_key(self, teacher_sha: str, frontend_hash: str) -> str:
        fields = [self.seed, self.copies, self.val_fraction, self.tts_keyword_variants, self.tts_other_variants,
                  self.fsdd_clips, self.silence_clips, self.stream_windows, teacher_sha, frontend_hash, POOL_VERSION]
        if self.vtlp:  # appended only when used: pools built before the option keep their keys
            fields.append(self.vtlp)
        if self.frames != FRAMES:  # the same: a longer input context
            fields.append(self.frames)
        return hashlib.sha1(json.dumps(fields).encode()).hexdigest()[:16]

    @property
    def frames(self) -> int:
        """Frames the student reads (model.student.input_frames of its config)."""
        return input_frames(self.config or DEFAULT_CONFIG)


# The recipe's command-line options, one per TrainConfig field (model.train builds them
# from here, so their defaults cannot disagree): field -> help.
RECIPE_OPTIONS: dict[str, str] = {
    "seed": "random seed (pool, order, mixes, initial weights)",
    "epochs": "training epochs",
    "batch": "batch size",
    "lr": "peak learning rate (Adam, cosine decay)",
    "temperature": "distillation temperature T",
    "kd_weight": "loss = w * T^2 KL(teacher || student) + (1 - w) * cross-entropy",
    "precision": "binary (the deployed network) or real (diagnostic: no binarization at all)",
    "copies": "augmented copies of every source clip in the pool",
    "tts_keyword_variants": "synthetic keyword clips per keyword (espeak-ng/flite voices)",
    "tts_other_variants": "synthetic clips per other word",
    "stream_windows": "1 s windows cut from synthetic streams, labelled by the teacher (0: none)",
    "val_stream_windows": "the same from the validation speakers, for calibration and reports",
    "mix_fraction": "share of every batch replaced by log-domain mixes of two clips, labelled by the teacher",
    "vtlp": "share of the augmented copies of recorded speech warped by VTLP (vocal-tract length, factor 0.85-1.15)",
    "calibration_drop": "accuracy points the early exits may lose against full depth (clips and stream windows)",
}
PRECISIONS = ("binary", "real")


def add_recipe_options(parser: argparse.ArgumentParser, defaults: "TrainConfig | None" = None) -> None:
    """--seed, --epochs, ... one option per RECIPE_OPTIONS field, typed and defaulted from TrainConfig."""
    defaults = defaults or TrainConfig()
    for name, help_text in RECIPE_OPTIONS.items():
        value = getattr(defaults, name)
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value, help=f"{help_text} (default {value})")
    parser.add_argument("--config", type=Path, default=None, help="student config JSON (default: model.student.DEFAULT_CONFIG)")


def recipe_from_args(args: argparse.Namespace) -> "TrainConfig":
    """The TrainConfig of parsed recipe options; BitearError names a bad value."""
    values = {name: getattr(args, name) for name in RECIPE_OPTIONS}
    if values["precision"] not in PRECISIONS:
        raise BitearError(f"--precision: expected one of {', '.join(PRECISIONS)}, found {values['precision']!r}")
    for name in ("epochs", "batch", "copies"):
        if values[name] < 1:
            raise BitearError(f"--{name.replace('_', '-')}: expected >= 1, found {values[name]}")
    for name in ("mix_fraction", "vtlp"):
        if not 0.0 <= values[name] <= 1.0:
            raise BitearError(f"--{name.replace('_', '-')}: expected a share in [0, 1], found {values[name]}")
    config = {}
    if args.config is not None:
        try:
            config = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as e:
            raise BitearError(f"--config {args.config}: cannot read a JSON student config ({e})") from None
        try:
            validate_config(config)
        except (ValueError, KeyError, TypeError) as e:
            raise BitearError(f"--config {args.config}: {e}") from None
    return TrainConfig(**values, config=config)


POOL_VERSION = 3  # 2: the pool keeps the teacher's MFCC of every clip (for mixes labelled on the fly); 3: stream windows


@dataclass
class Pool:
    """Precomputed training material: int8 features, teacher logits, hard labels."""
    features: np.ndarray   # (N, frames, 40) int8: the student's input (model.student.input_frames)
    teacher: np.ndarray    # (N, 12) float32
    labels: np.ndarray     # (N,) int64
    sources: np.ndarray    # (N,) str
    mfcc: np.ndarray | None = None  # (N, 49, 10) float32 teacher input, when mixes are to be labelled


def augment_copies(rng: np.random.Generator, clips: ClipSet, copies: int, noise: BackgroundNoise | None,
                   vtlp: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`copies` versions of every clip: the clean clip, then random speed/shift/gain/noise versions;
    `vtlp`: the share of the augmented copies of recorded (not synthetic) speech that are VTLP-warped first."""
    out, labels, sources = [], [], []
    for i in range(len(clips)):
        x = clips.audio[i]
        for c in range(copies):
            y = x
            if c > 0:
                if vtlp and clips.words[i] != SILENCE_LABEL and clips.sources[i] != "tts" and rng.random() < vtlp:
                    y = augment.random_vtlp(rng, y)
                if clips.words[i] != SILENCE_LABEL and rng.random() < 0.6:
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
        english = {e: english_voices(e) for e in RECIPE_ENGINES}
        parts.append(synthesize_words(KEYWORDS, cfg.tts_keyword_variants, cfg.seed, engines=RECIPE_ENGINES, voices=english, progress=progress))
    if cfg.tts_other_variants:
        parts.append(synthesize_words(OTHER_WORDS, cfg.tts_other_variants, cfg.seed, engines=RECIPE_ENGINES, progress=progress))
    parts.append(noise_silence_clips(rng, cfg.silence_clips, noise))
    return ClipSet.concat(parts), val, noise


def build_pool(cfg: TrainConfig, sources: ClipSet, noise: BackgroundNoise | None, teacher_logits, features_of,
               key: str | None, progress: bool = True) -> Pool:
    """Augment, cut stream windows, label with the teacher and extract features; cached under
    cache_dir('pools') when `key` is given. Stream windows get the teacher's top class as hard label.
    With a longer input context (cfg.frames > 49) every clip is placed at the end of its window
    (model.streams.clips_in_context) and the stream windows reach back as far; the teacher labels
    the last second of each."""
    path = cache_dir("pools") / f"{key}.npz" if key else None
    if path is not None and path.is_file():
        with np.load(path) as z:
            return Pool(z["features"], z["teacher"], z["labels"], z["sources"], z["mfcc"])
    rng = np.random.default_rng([cfg.seed, 1])
    t0 = time.perf_counter()
    audio, labels, srcs = augment_copies(rng, sources, cfg.copies, noise, cfg.vtlp)
    audio = clips_in_context(np.random.default_rng([cfg.seed, 5]), audio, noise, cfg.frames)
    if cfg.stream_windows:
        if noise is None:
            raise ValueError("stream_windows > 0 needs background noise for the gaps between words")
        windows = stream_windows(np.random.default_rng([cfg.seed, 3]), sources, noise, cfg.stream_windows,
                                 cfg.frames, np.random.default_rng([cfg.seed, 6]))
        audio = np.concatenate([audio, windows])
        labels = np.concatenate([labels, np.full(len(windows), -1, np.int64)])
        srcs = np.concatenate([srcs, np.array(["stream"] * len(windows))])
    t1 = time.perf_counter()
    feats = features_in_context(audio, features_of)
    t2 = time.perf_counter()
    last_second = np.ascontiguousarray(audio[:, -CLIP_SAMPLES:])
    logits = teacher_logits(last_second)
    teacher_input = mfcc(last_second)
    t3 = time.perf_counter()
    labels = np.where(labels < 0, logits.argmax(axis=1), labels)
    if progress:
        print(f"pool: {len(audio)} clips ({cfg.stream_windows} stream windows); augment {t1 - t0:.0f} s, "
              f"features {t2 - t1:.0f} s, teacher {t3 - t2:.0f} s")
    pool = Pool(feats, logits.astype(np.float32), labels, srcs, teacher_input.astype(np.float32))
    if path is not None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, features=pool.features, teacher=pool.teacher, labels=pool.labels, sources=pool.sources,
                 mfcc=pool.mfcc)
        tmp.replace(path)
    return pool


@dataclass
class StreamCheck:
    """Validation stream windows: the student's int8 features and the teacher's top class (the target)."""
    features: np.ndarray   # (N, frames, 40) int8
    labels: np.ndarray     # (N,) teacher argmax


def validation_windows(cfg: TrainConfig, val: ClipSet, noise: BackgroundNoise, teacher_logits, features_of) -> StreamCheck:
    """`cfg.val_stream_windows` windows of streams made of the validation speakers' clips, labelled by the teacher."""
    windows = stream_windows(np.random.default_rng([cfg.seed, 4]), val, noise, cfg.val_stream_windows,
                             cfg.frames, np.random.default_rng([cfg.seed, 7]))
    return StreamCheck(features_in_context(windows, features_of),
                       teacher_logits(np.ascontiguousarray(windows[:, -CLIP_SAMPLES:])).argmax(axis=1))


def validation_features(cfg: TrainConfig, val: ClipSet, noise: BackgroundNoise | None, features_of) -> np.ndarray:
    """The student's input for the validation clips (in context when it reads more than 1 s), placed as
    `python -m model.evaluate` and `model.calibrate` place them (model.streams.CONTEXT_SEED)."""
    return clip_features(np.random.default_rng(CONTEXT_SEED), val.audio, noise, cfg.frames, features_of)


def cosine_lr(base: float, step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return 0.5 * base * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def teacher_function(teacher):
    """The MFCC -> teacher logits function `distill` labels mixes with (numpy port: fastest here)."""
    return lambda m: teacher.logits_from_features(m, backend="numpy")


def distill(cfg: TrainConfig, pool: Pool, val_features: np.ndarray, val_labels: np.ndarray, state_dir: Path,
            resume: bool = False, progress: bool = True, log=print, teacher_from_mfcc=None,
            val_stream: StreamCheck | None = None, init=None):
    """Train a BinaryStudent on the pool; returns (student, history). Resumable from `state_dir`.

    teacher_from_mfcc: (N, 49, 10) MFCC -> (N, 12) teacher logits, needed when `cfg.mix_fraction` > 0.
    val_stream: validation stream windows; each epoch then also logs every exit's agreement with the teacher there.
    init: called with the new student before training (e.g. model.pretrain.load_backbone)."""
    from tinygrad import Context, Tensor, TinyJit
    from tinygrad.nn.optim import Adam
    from tinygrad.nn.state import get_state_dict, safe_load, safe_save, load_state_dict
    from tqdm import tqdm

    if cfg.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, found {cfg.precision!r}")
    mixing = cfg.mix_fraction > 0
    if mixing and (pool.mfcc is None or teacher_from_mfcc is None):
        raise ValueError("mix_fraction > 0 needs the pool's teacher MFCC and a teacher_from_mfcc function")
    Tensor.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, 2])
    student = BinaryStudent(cfg.config or None)
    if init is not None:
        init(student)
    n_exits = len(student.heads)
    exit_w = list(cfg.exit_weights)[:n_exits] + [1.0] * max(0, n_exits - len(cfg.exit_weights))
    opt = Adam(student.parameters(), lr=cfg.lr)
    trained = {"student": student, "opt": opt}
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

    T = cfg.temperature
    teacher_soft = pool.teacher / T
    binary = cfg.precision == "binary"

    def loss_fn(x: Tensor, t_logits: Tensor, y: Tensor) -> Tensor:
        outs = student(x, binary_act=binary, binary_weights=binary)
        p_t = t_logits.softmax(axis=-1)
        log_p_t = t_logits.log_softmax(axis=-1)
        total = None
        for w, o in zip(exit_w, outs):
            kd = (p_t * (log_p_t - (o / T).log_softmax(axis=-1))).sum(axis=-1).mean() * (T * T)
            ce = o.sparse_categorical_crossentropy(y)
            term = (cfg.kd_weight * kd + (1 - cfg.kd_weight) * ce) * w
            total = term if total is None else total + term
        return total

    @TinyJit
    def step(x: Tensor, t_logits: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        loss = loss_fn(x, t_logits, y)
        loss.backward()
        updates = opt.schedule_step()  # first: the clip below must act on the updated weights
        clipped = [w.assign(w.detach().clip(-1.0, 1.0)) for w in student.latent_weights()]
        return loss.realize(*updates, *clipped, *student.running_statistics())

    def make_batch(idx: np.ndarray) -> tuple[np.ndarray, ...]:
        """(features, teacher logits / T, hard labels) of one batch."""
        feats, soft, hard = pool.features[idx].astype(np.float32), teacher_soft[idx], pool.labels[idx]
        if mixing:
            # Log-domain mixup: the student's log-mel features and the teacher's MFCC (linear in log-mel) of two
            # clips are mixed with the same weight, so both networks see the same blend; the teacher labels it.
            m = int(round(cfg.mix_fraction * len(idx)))
            partner = rng.integers(0, len(pool.labels), m)
            lam = rng.uniform(0.0, 1.0, (m, 1, 1)).astype(np.float32)
            feats[:m] = np.round(lam * feats[:m] + (1 - lam) * pool.features[partner])
            mixed = teacher_from_mfcc(lam * pool.mfcc[idx[:m]] + (1 - lam) * pool.mfcc[partner])
            soft[:m], hard[:m] = mixed / T, mixed.argmax(axis=1)
        return feats, soft, hard

    n = len(pool.labels)
    per_epoch = n // cfg.batch
    total_steps = per_epoch * cfg.epochs
    for epoch in range(start_epoch, cfg.epochs):
        order = rng.permutation(n)
        t0, losses = time.perf_counter(), []
        bar = tqdm(range(per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False)
        batches = (order[b * cfg.batch:(b + 1) * cfg.batch] for b in range(per_epoch))
        # batches are prepared (mixes labelled by the teacher) one ahead in a worker thread while tinygrad
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
                    loss = step(*(Tensor(a) for a in batch))
                losses.append(loss.item())
                if b % 20 == 0:
                    bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        accs = [float((l.argmax(1) == val_labels).mean()) for l in exit_logits(student, val_features, stage=cfg.precision)]
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_exit_accuracy": accs,
                  "seconds": time.perf_counter() - t0}
        line = f"epoch {epoch + 1:3d} loss {record['loss']:.4f} val acc per exit " + " ".join(f"{a * 100:.1f}" for a in accs)
        if val_stream is not None:
            agree = [float((l.argmax(1) == val_stream.labels).mean())
                     for l in exit_logits(student, val_stream.features, stage=cfg.precision)]
            record["val_stream_agreement"] = agree
            line += "; stream windows (agreement with the teacher) " + " ".join(f"{a * 100:.1f}" for a in agree)
        history.append(record)
        log(line + f"  ({record['seconds']:.0f} s)")
        state_dir.mkdir(parents=True, exist_ok=True)
        safe_save({k: v.contiguous() for k, v in get_state_dict(trained).items()}, str(state_path))
        (state_dir / "train_state.json").write_text(json.dumps({"epoch": epoch + 1, "history": history}))
    return student, history
