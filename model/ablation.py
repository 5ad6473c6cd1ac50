"""Short training probes for recipe choices: `python -m model.ablation [options]`.

Trains the student on a random subset of the cached training pool of `python -m model.train`
(same sources, augmentation, teacher labels and features; built and cached on first use) for a
few epochs and prints the validation-speaker accuracy per exit after each epoch. The README's
"what was tried" table came from runs like:

    python -m model.ablation --lr 3e-3                        # binary from the start, KD 0.7
    python -m model.ablation --lr 1e-2                        # the kept learning rate
    python -m model.ablation --lr 1e-2 --kd-weight 0          # cross-entropy only
    python -m model.ablation --lr 1e-2 --stages real,binact,binary
    python -m model.ablation --lr 1e-2 --masks 2              # SpecAugment masks

and the second table (all 24,804 pool clips, 10 epochs):

    python -m model.ablation --clips 30000 --epochs 10                       # baseline
    python -m model.ablation --clips 30000 --epochs 10 --stem-cepstra 13     # stem kept in 13 DCT vectors
    python -m model.ablation --clips 30000 --epochs 10 --stages real         # diagnostic: no binarization
    python -m model.ablation --clips 30000 --epochs 10 --stages binact       # diagnostic: real weights
    python -m model.ablation --clips 30000 --epochs 10 --mix 0.5             # teacher-labelled mixes
    python -m model.ablation --clips 30000 --epochs 10 --temperature 4 --kd-weight 0.9
    python -m model.ablation --clips 30000 --epochs 10 --config wider.json   # other student shapes
    python -m model.ablation --clips 30000 --epochs 10 --hint 1              # teacher-feature (hint) loss
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from model.errors import BitearError, run_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.ablation", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--clips", type=int, default=8192, help="pool clips to train on (default 8192)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--kd-weight", type=float, default=0.7)
    parser.add_argument("--mix", type=float, default=0.0, help="share of each batch replaced by teacher-labelled mixes")
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--masks", type=int, default=0, help="SpecAugment time and frequency masks per clip")
    parser.add_argument("--hint", type=float, default=0.0, help="weight of the teacher-feature regression loss")
    parser.add_argument("--stages", default="binary")
    parser.add_argument("--stem-cepstra", type=int, default=0, help="keep the stem in the span of the first K DCT vectors")
    parser.add_argument("--config", type=Path, default=None, help="student config JSON")
    args = parser.parse_args(argv)
    return run_cli(lambda: _run(args))


def _run(args) -> int:
    from model.feature_cache import features_cached
    from model.frontend import FRONTEND_PARAMS
    from model.paths import data_dir
    from model.teacher import Teacher
    from model.teacher_cache import teacher_logits_cached
    from model.train import Pool, TrainConfig, build_pool, distill, load_sources, teacher_function

    root = args.data or data_dir()
    if root is None or not (root / "speech_commands_v2_dev").is_dir():
        raise BitearError(f"needs the data folder with speech_commands_v2_dev/ (found {root}); set BITEAR_DATA or pass --data")
    pool_cfg = TrainConfig()
    teacher = Teacher.load(root / "teacher_ds_cnn_l")
    sources, val, noise = load_sources(pool_cfg, root, progress=False)
    key = pool_cfg.pool_key(teacher.sha256, str(FRONTEND_PARAMS["source_hash"]))
    pool = build_pool(pool_cfg, sources, noise, lambda a: teacher_logits_cached(a, teacher=teacher), features_cached, key)
    pick = np.random.default_rng(0).choice(len(pool.labels), min(args.clips, len(pool.labels)), replace=False)
    sub = Pool(pool.features[pick], pool.teacher[pick], pool.labels[pick], pool.sources[pick], pool.mfcc[pick])
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, kd_weight=args.kd_weight, temperature=args.temperature, spec_time_masks=args.masks,
                      spec_freq_masks=args.masks, stages=tuple(args.stages.split(",")),
                      stem_cepstra=args.stem_cepstra, mix_fraction=args.mix, hint_weight=args.hint, config=json.loads(args.config.read_text()) if args.config else {})
    distill(cfg, sub, features_cached(val.audio, progress=False), val.labels, Path(tempfile.mkdtemp()), progress=False,
            teacher_from_mfcc=teacher_function(teacher, cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
