"""The worked example of "Train on your own words": FSDD as two folder-per-class datasets.

`python -m model.fsdd_example OUT` links (symlinks, no copies) the Free Spoken Digit Dataset of the
shared data folder into OUT/train/<digit>/ (speakers george, jackson, lucas, yweweler) and
OUT/test/<digit>/ (the held-out speakers nicolas and theo: a fixed speaker-disjoint split). Then:

    python -m model.train --dataset OUT/train --test-dataset OUT/test --out fsdd.safetensors

`--silence N` also writes N 1 s clips of background noise (the data folder's background_noise/, a
random level, log-uniform over the RMS range of the gaps between words in host.stream_truth streams)
into OUT/train/_silence_/: a class the detector never reports, so the pauses of a stream need not be
some digit. `--stream N` writes OUT/digits.wav, N digits of the test speakers with 1-2 s gaps of
background noise (model.word_truth.keyword_stream), and its truth OUT/digits.csv (start_s,end_s,label:
the format of `host.streaming_quality --truth`).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from model.audio import SAMPLE_RATE, write_wav
from model.datasets import FSDD_DIGITS, _FSDD_NAME, BackgroundNoise, load_folder_dataset, log_uniform
from model.errors import BitearError, run_cli
from model.paths import data_dir
from model.streams import NOISE_RMS
from model.synth import trim_silence
from model.word_truth import keyword_stream

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


def write_silence(noise: BackgroundNoise, folder: Path, n: int, seed: int) -> None:
    """n clips of 1 s background noise at random levels (NOISE_RMS) as folder/silence_{i}.wav."""
    rng = np.random.default_rng([seed, 11])
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rms = log_uniform(rng, NOISE_RMS)
        write_wav(folder / f"silence_{i}.wav", noise.segment(rng, SAMPLE_RATE, rms))


def write_stream(noise: BackgroundNoise, test: Path, out: Path, n: int, seed: int) -> tuple[Path, Path]:
    """n digits of the test folder, drawn by seed, with noise gaps: (stream WAV, truth CSV)."""
    clips = load_folder_dataset(test, seed=seed, progress=False).clips
    rng = np.random.default_rng([seed, 12])
    order = rng.choice(len(clips), size=min(n, len(clips)), replace=False)
    audio, truth = keyword_stream([(clips.words[i], trim_silence(clips.audio[i])) for i in order],
                                lambda k, rms: noise.segment(rng, k, rms), rng, keywords=FSDD_DIGITS)
    wav, csv_path = out / "digits.wav", out / "digits.csv"
    write_wav(wav, audio)
    csv_path.write_text("start_s,end_s,label\n" + "".join(f"{k.onset_ms / 1000:.3f},{k.end_ms / 1000:.3f},{k.word}\n"
                                                        for k in truth))
    return wav, csv_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.fsdd_example", description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder to write train/ and test/ into")
    ap.add_argument("--fsdd", type=Path, default=None, help="FSDD folder (default: fsdd/ of the data folder)")
    ap.add_argument("--silence", type=int, default=0, help="write N noise clips into train/_silence_/ (default 0)")
    ap.add_argument("--stream", type=int, default=0, help="write digits.wav + digits.csv: N test digits in noise (default 0)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    def run() -> int:
        if args.silence < 0 or args.stream < 0:
            raise BitearError(f"--silence and --stream: expected >= 0, found {args.silence}, {args.stream}")
        root = data_dir()
        if (args.silence or args.stream) and (root is None or not (root / "background_noise").is_dir()):
            raise BitearError(f"--silence / --stream need the data folder's background_noise/ (found {root}; set BITEAR_DATA)")
        fsdd = args.fsdd or ((root or Path("../shared/data")) / "fsdd")
        counts = make_folders(fsdd, args.out)
        print(f"{args.out}: train {counts['train']} clips, test {counts['test']} clips (test speakers: {', '.join(TEST_SPEAKERS)})")
        if args.silence or args.stream:
            noise = BackgroundNoise.load(root / "background_noise", progress=False)
            if args.silence:
                write_silence(noise, args.out / "train" / "_silence_", args.silence, args.seed)
                print(f"{args.out / 'train' / '_silence_'}: {args.silence} noise clips")
            if args.stream:
                wav, truth = write_stream(noise, args.out / "test", args.out, args.stream, args.seed)
                print(f"{wav}, {truth}: {args.stream} digits of the test speakers")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
