"""The worked example of "Train on your own words": FSDD as two folder-per-class datasets.

`python -m model.fsdd_example OUT` links (symlinks, no copies) the Free Spoken Digit Dataset of the
shared data folder into OUT/train/<digit>/ (speakers george, jackson, lucas, yweweler) and
OUT/test/<digit>/ (the held-out speakers nicolas and theo: a fixed speaker-disjoint split). Then:

    python -m model.train --dataset OUT/train --test-dataset OUT/test --out fsdd.safetensors
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from model.datasets import FSDD_DIGITS, _FSDD_NAME
from model.errors import BitearError, run_cli
from model.paths import data_dir

TEST_SPEAKERS: tuple[str, ...] = ("nicolas", "theo")


def make_folders(fsdd: Path, out: Path) -> dict[str, int]:
    """Link every `{digit}_{speaker}_{index}.wav` of `fsdd` into out/train|test/<digit word>/; counts per side."""
    if not fsdd.is_dir():
        raise BitearError(f"FSDD folder not found: {fsdd} (set BITEAR_DATA)")
    counts = {"train": 0, "test": 0}
    for p in sorted(fsdd.iterdir()):
        m = _FSDD_NAME.match(p.name)
        if not m:
            continue
        side = "test" if m.group(2) in TEST_SPEAKERS else "train"
        folder = out / side / FSDD_DIGITS[int(m.group(1))]
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / p.name
        if not link.is_symlink():
            os.symlink(p.resolve(), link)
        counts[side] += 1
    if not counts["train"] or not counts["test"]:
        raise BitearError(f"{fsdd}: no FSDD files named {{digit}}_{{speaker}}_{{index}}.wav for both sides {counts}")
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.fsdd_example", description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder to write train/ and test/ into")
    ap.add_argument("--fsdd", type=Path, default=None, help="FSDD folder (default: fsdd/ of the data folder)")
    args = ap.parse_args(argv)

    def run() -> int:
        fsdd = args.fsdd or ((data_dir() or Path("../shared/data")) / "fsdd")
        counts = make_folders(fsdd, args.out)
        print(f"{args.out}: train {counts['train']} clips, test {counts['test']} clips (test speakers: {', '.join(TEST_SPEAKERS)})")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
