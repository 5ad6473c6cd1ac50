"""Representation distillation: `python -m model.pretrain --out BACKBONE` (the Brillsson idea).

The binary backbone (stem + blocks) learns to reproduce the teacher's pooled 276-d embedding
(DS-CNN-L's features before its classifier, standardized per dimension) from the student's own
int8 features: at every exit, the time-averaged +-1 map goes through a linear map (used only here,
then dropped) and the loss is the mean squared error to the standardized embedding, summed over
exits. Audio, labels unused: every clip of speech_commands_v2_dev and speech_commands_v1_sample,
FSDD except its two test speakers (model.fsdd_example.TEST_SPEAKERS, so the FSDD test stays
unheard), noise segments; `--copies` augmented versions of each (model.distill.augment_copies).

A new task starts from it: `python -m model.train --dataset DIR --init BACKBONE ...` loads the stem
and blocks (batch-norm statistics included) and trains the whole network on the labelled clips.
The file is a safetensors of the backbone's tensors plus JSON metadata (format "bitear-backbone",
the student config, the sources, the loss history).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from model.checkpoint import read_safetensors
from model.datasets import BackgroundNoise, ClipSet, load_fsdd, load_speech_commands, noise_silence_clips
from model.errors import BitearError, run_cli
from model.feature_cache import features_cached
from model.fsdd_example import TEST_SPEAKERS
from model.mfcc import mfcc
from model.paths import data_dir
from model.student import BinaryStudent
from model.teacher import Teacher
from model.distill import augment_copies, cosine_lr

FORMAT = "bitear-backbone"
METADATA_KEY = "bitear"


def gather_audio(root: Path, silence: int, seed: int, progress: bool):
    """(ClipSet of every unlabelled source clip, background noise, a description of the sources)."""
    noise = BackgroundNoise.load(root / "background_noise", progress=progress)
    parts = [load_speech_commands(root / "speech_commands_v2_dev", progress=progress)]
    if (root / "speech_commands_v1_sample").is_dir():
        parts.append(load_speech_commands(root / "speech_commands_v1_sample", "train", progress=progress))
    if (root / "fsdd").is_dir():
        fsdd = load_fsdd(root / "fsdd", progress=progress)
        parts.append(fsdd.subset([s not in TEST_SPEAKERS for s in fsdd.speakers]))
    parts.append(noise_silence_clips(np.random.default_rng(seed), silence, noise))
    clips = ClipSet.concat(parts)
    return clips, noise, {"clips": len(clips), "sources": sorted(set(clips.sources)),
                          "fsdd_speakers_left_out": list(TEST_SPEAKERS)}


def backbone_state(student) -> dict:
    """The stem's and blocks' tensors (running statistics included), by state-dict name."""
    from tinygrad import nn
    return {k: v for k, v in nn.state.get_state_dict(student).items() if not k.startswith("heads.")}


def save_backbone(path: str | Path, student, metadata: dict) -> None:
    """The backbone's tensors and `metadata` (plus format and config) as one safetensors file."""
    from tinygrad.nn.state import safe_save

    meta = {**metadata, "format": FORMAT, "config": student.config}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    safe_save({k: v.contiguous().realize() for k, v in backbone_state(student).items()}, str(path),
              metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})


def load_backbone(path: str | Path, student) -> dict:
    """Copy a backbone file's tensors into `student` (same stem and blocks); returns its metadata."""
    from tinygrad import Tensor

    tensors, raw = read_safetensors(path)
    try:
        meta = json.loads(raw.get(METADATA_KEY, "{}"))
    except json.JSONDecodeError:
        meta = {}
    if meta.get("format") != FORMAT:
        raise BitearError(f"backbone {path}: not a {FORMAT} file (write one with python -m model.pretrain)")
    mine = student.config
    for key in ("frames", "bins", "stem", "time_padding"):
        if meta["config"].get(key) != mine.get(key):
            raise BitearError(f"backbone {path}: {key} is {meta['config'].get(key)!r}, the student's is {mine.get(key)!r}")
    if [(b["kernel"], b["stride"], b["channels"]) for b in meta["config"]["blocks"]] != \
            [(b["kernel"], b["stride"], b["channels"]) for b in mine["blocks"]]:
        raise BitearError(f"backbone {path}: its blocks differ from the student's config")
    for name, value in backbone_state(student).items():
        if name not in tensors or tuple(tensors[name].shape) != tuple(value.shape):
            raise BitearError(f"backbone {path}: tensor '{name}' missing or of another shape")
        value.assign(Tensor(tensors[name], dtype=value.dtype)).realize()
    return meta


def pretrain(features: np.ndarray, target: np.ndarray, config: dict | None, epochs: int, batch: int, lr: float,
             seed: int, progress: bool = True, log=print):
    """Train the backbone so every exit's pooled map predicts `target` (N, D) through a linear map;
    returns (student, history of mean losses per epoch)."""
    from tinygrad import Context, Tensor, TinyJit, nn
    from tinygrad.nn.optim import Adam
    from tqdm import tqdm

    Tensor.manual_seed(seed)
    rng = np.random.default_rng([seed, 6])
    student = BinaryStudent(config)
    maps = [nn.Linear(b["channels"], target.shape[1]) for b in student.config["blocks"] if b.get("exit")]
    params = [t for name, t in backbone_state(student).items() if "running_" not in name and "num_batches" not in name]
    params += [t for m in maps for t in (m.weight, m.bias)]
    opt = Adam(params, lr=lr)

    @TinyJit
    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        loss = None
        for m, (pooled, _) in zip(maps, student.exits(x)):
            term = ((m(pooled) - y) ** 2).mean()
            loss = term if loss is None else loss + term
        loss.backward()
        updates = opt.schedule_step()
        clipped = [w.assign(w.detach().clip(-1.0, 1.0)) for w in student.latent_weights()]
        return loss.realize(*updates, *clipped, *student.running_statistics())

    n, per_epoch = len(features), len(features) // batch
    total, history = per_epoch * epochs, []
    for epoch in range(epochs):
        order, losses, t0 = rng.permutation(n), [], time.perf_counter()
        for b in tqdm(range(per_epoch), desc=f"pretrain {epoch + 1}/{epochs}", disable=not progress, leave=False):
            idx = order[b * batch:(b + 1) * batch]
            opt.lr.assign(Tensor([cosine_lr(lr, epoch * per_epoch + b, total, min(300, total // 10 + 1))], dtype=opt.lr.dtype)).realize()
            with Context(TRAINING=1):
                losses.append(step(Tensor(features[idx].astype(np.float32)), Tensor(target[idx])).item())
        history.append(float(np.mean(losses)))
        log(f"pretrain epoch {epoch + 1:3d} loss {history[-1]:.4f} (sum over exits of the MSE to the standardized "
            f"embedding; 1.0 per exit = predicting the mean)  ({time.perf_counter() - t0:.0f} s)")
    return student, history


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.pretrain", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="backbone file to write (.safetensors)")
    ap.add_argument("--data", type=Path, default=None, help="data folder (default: $BITEAR_DATA or ../shared/data)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--copies", type=int, default=3, help="augmented versions of every clip (the first is the clean clip)")
    ap.add_argument("--silence", type=int, default=400, help="noise segments added to the audio")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--config", type=Path, default=None, help="student config JSON (default: model.student.DEFAULT_CONFIG)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    return run_cli(lambda: _run(args))


def _run(args) -> int:
    root = args.data or data_dir()
    if root is None or not (root / "speech_commands_v2_dev").is_dir():
        raise BitearError(f"pretraining needs the data folder with speech_commands_v2_dev/ (found {root}); set BITEAR_DATA or pass --data")
    config = None
    if args.config is not None:
        try:
            config = json.loads(args.config.read_text())
        except (OSError, ValueError) as e:
            raise BitearError(f"--config {args.config}: cannot read a JSON student config ({e})") from None
    progress = not args.no_progress
    t0 = time.perf_counter()
    clips, noise, sources = gather_audio(root, args.silence, args.seed, progress)
    audio, _, _ = augment_copies(np.random.default_rng([args.seed, 7]), clips, args.copies, noise)
    features = features_cached(audio, progress=progress)
    teacher = Teacher.load()
    _, emb = teacher.logits_and_embedding(mfcc(audio))
    mean, std = emb.mean(axis=0), emb.std(axis=0) + 1e-6
    target = ((emb - mean) / std).astype(np.float32)
    print(f"pretrain: {len(audio)} clips ({sources['clips']} sources x {args.copies}), teacher embeddings "
          f"{emb.shape[1]}-d, ready after {time.perf_counter() - t0:.0f} s")
    student, history = pretrain(features, target, config, args.epochs, args.batch, args.lr, args.seed, progress)
    save_backbone(args.out, student, {"teacher_sha256": teacher.sha256, "data": sources, "copies": args.copies,
                                      "history": history, "seconds": round(time.perf_counter() - t0),
                                      "command": "python -m model.pretrain " + " ".join(sys.argv[1:])})
    print(f"wrote {args.out} after {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
