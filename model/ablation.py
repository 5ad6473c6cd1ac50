"""Short training probes for recipe choices: `python -m model.ablation [recipe options] [--clips N]`.

Trains the student on a random subset of the cached training pool of `python -m model.train`
(same sources, augmentation, stream windows, teacher labels and features; built and cached on
first use) for a few epochs and prints the validation-speaker accuracy per exit, and the agreement
with the teacher on validation stream windows, after each epoch. The recipe options are
model.train's (`model.train.RECIPE_OPTIONS`, defaults from `TrainConfig`), with shorter defaults
for `--epochs`. The README's "what was tried" tables came from runs like:

    python -m model.ablation --clips 30000 --epochs 10                       # baseline
    python -m model.ablation --clips 30000 --epochs 10 --precision real      # diagnostic: no binarization
    python -m model.ablation --clips 30000 --epochs 10 --mix-fraction 0      # without teacher-labelled mixes
    python -m model.ablation --clips 30000 --epochs 10 --stream-windows 0    # without stream windows
    python -m model.ablation --clips 30000 --epochs 10 --config wider.json   # other student shapes

Options that were tried and not kept (SpecAugment masks, a staged real -> binary schedule, a
cepstral stem, a hint loss on the teacher's features) are gone from the code; git history and the
README's ablation tables keep them.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from model.errors import BitearError, run_cli

PROBE_EPOCHS = 10


def main(argv: list[str] | None = None) -> int:
    from model.train import TrainConfig, add_recipe_options

    parser = argparse.ArgumentParser(prog="python -m model.ablation", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--clips", type=int, default=8192, help="pool clips to train on (default 8192)")
    add_recipe_options(parser, TrainConfig(epochs=PROBE_EPOCHS))
    args = parser.parse_args(argv)
    return run_cli(lambda: _run(args))


def _run(args) -> int:
    from model.feature_cache import features_cached
    from model.frontend import FRONTEND_PARAMS
    from model.paths import data_dir
    from model.teacher import Teacher
    from model.teacher_cache import teacher_logits_cached
    from model.train import Pool, build_pool, distill, load_sources, recipe_from_args, teacher_function, validation_windows

    root = args.data or data_dir()
    if root is None or not (root / "speech_commands_v2_dev").is_dir():
        raise BitearError(f"needs the data folder with speech_commands_v2_dev/ (found {root}); set BITEAR_DATA or pass --data")
    if args.clips < 1:
        raise BitearError(f"--clips: expected >= 1, found {args.clips}")
    cfg = recipe_from_args(args)
    teacher = Teacher.load()
    sources, val, noise = load_sources(cfg, root, progress=False)
    teacher_logits = lambda a: teacher_logits_cached(a, teacher=teacher, progress=False)  # noqa: E731
    features = lambda a: features_cached(a, progress=False)  # noqa: E731
    key = cfg.pool_key(teacher.sha256, str(FRONTEND_PARAMS["source_hash"]))
    pool = build_pool(cfg, sources, noise, teacher_logits, features, key, progress=False)
    pick = np.random.default_rng(0).choice(len(pool.labels), min(args.clips, len(pool.labels)), replace=False)
    sub = Pool(pool.features[pick], pool.teacher[pick], pool.labels[pick], pool.sources[pick], pool.mfcc[pick])
    val_stream = validation_windows(cfg, val, noise, teacher_logits, features) if cfg.val_stream_windows else None
    distill(replace(cfg), sub, features(val.audio), val.labels, Path(tempfile.mkdtemp()), progress=False,
            teacher_from_mfcc=teacher_function(teacher), val_stream=val_stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
