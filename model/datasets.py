"""Labelled 1 s clips for training and evaluation: Speech Commands (both layouts), FSDD, background noise.

Every loader returns a `ClipSet`: audio (N, 16000) int16 at 16 kHz plus, per clip, the label index
in the 12-class order of `LABELS`, the spoken word, the speaker id, the source and the file path.

Layouts understood:
- Speech Commands *test-set layout* (`speech_commands_v2_dev`): folders `_silence_`, `_unknown_`
  and the ten keywords. `_unknown_` files are `<word>_<speaker>_nohash_<n>.wav.wav` (the double
  extension is in the original); keyword files are `<speaker>_nohash_<n>.wav`; silence clips have
  no speaker, each gets its own id `silence-<stem>`.
- Speech Commands *full layout*: one folder per word, `validation_list.txt`, `testing_list.txt`,
  `_background_noise_/`. The split comes from the lists (no hashing): listed in testing_list ->
  "test", in validation_list -> "validation", else "train". Without lists (e.g.
  `speech_commands_v1_sample`) every clip is "train". Words outside the ten keywords are
  `_unknown_`. Silence clips are random 1 s segments of `_background_noise_/` at a random level
  (as in the standard recipe, the same noise files serve every split).
- FSDD: `{digit}_{speaker}_{index}.wav`, 8 kHz, resampled to 16 kHz and centred in 1 s. Digits are
  not keywords -> `_unknown_`. Official split: index 0-4 is "test", the rest "train".
- Background noise: long 16 kHz recordings loaded once; `random_noise_segment(rng, n)`.

Clip length: Speech Commands clips are padded/cut at the end (left-aligned, like the recipe and the
teacher's DecodeWav); FSDD clips are centred (cut to the loudest 1 s when longer).

Bad files: loading a single file (`audio.load_clip`) raises `BitearError` naming the file. Loading a
whole folder skips corrupt, empty or wrong-format files (wrong rate or stereo too, unless
`convert=True`), counts them, and emits ONE `SkippedFilesWarning` at the end naming how many and the
first few with their reason. A folder with no usable clip at all is a `BitearError`. Rationale: a
dataset of thousands of files with one broken clip should still train, but never silently.

Speaker-disjoint splits: `speaker_split` hashes the speaker id with sha1, so a speaker always lands on
the same side, whatever else is in the set.
"""
from __future__ import annotations

import functools
import hashlib
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tqdm import tqdm

from model.audio import CLIP_SAMPLES, SAMPLE_RATE, fit_to_one_second, load_clip, read_wav, resample, to_mono
from model.checkpoint import MAX_CLASSES, MAX_LABEL_CHARS
from model.errors import BitearError
from model.facts import KEYWORDS, LABELS
from model.labels import BACKGROUND_FOLDER, order_labels
from model.paths import data_dir

SILENCE, UNKNOWN = 0, 1
FSDD_DIGITS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPLITS = ("train", "validation", "test")
# The speaker split of training (validation speakers: sha1(SPLIT_SALT + speaker) < VAL_FRACTION), also
# that of model.calibrate, model.evaluate --split and the streams host.streaming_quality measures on.
VAL_FRACTION = 0.3
SPLIT_SALT = "bitear"


class SkippedFilesWarning(UserWarning):
    """Some files of a folder could not be loaded and were left out (the message says which)."""


def label_of(word: str) -> int:
    """Label index of a word: a keyword's own class, `_silence_` -> 0, anything else -> `_unknown_`."""
    if word == "_silence_":
        return SILENCE
    return LABELS.index(word) if word in KEYWORDS else UNKNOWN


@dataclass
class Clip:
    """One labelled clip (a row of a ClipSet)."""

    audio: np.ndarray  # int16[16000]
    label: int
    word: str
    speaker: str
    source: str
    path: str


@dataclass
class ClipSet:
    """A set of labelled 1 s clips, stored column-wise so training can slice arrays directly."""

    audio: np.ndarray  # (N, 16000) int16
    labels: np.ndarray  # (N,) int64, index into LABELS
    words: list[str]
    speakers: list[str]
    sources: list[str]
    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.audio)
        if not self.paths:
            self.paths = [""] * n
        if self.audio.ndim != 2 or self.audio.shape[1] != CLIP_SAMPLES or self.audio.dtype != np.int16:
            raise ValueError(f"ClipSet audio must be (N, {CLIP_SAMPLES}) int16, got {self.audio.shape} {self.audio.dtype}")
        if not (len(self.labels) == len(self.words) == len(self.speakers) == len(self.sources) == len(self.paths) == n):
            raise ValueError("ClipSet columns have different lengths")

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, i: int) -> Clip:
        return Clip(self.audio[i], int(self.labels[i]), self.words[i], self.speakers[i], self.sources[i], self.paths[i])

    def subset(self, index: np.ndarray | Sequence[int]) -> "ClipSet":
        """The clips at `index` (integer indices or a boolean mask)."""
        idx = np.asarray(index)
        idx = np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.int64)
        return ClipSet(
            self.audio[idx],
            self.labels[idx],
            [self.words[i] for i in idx],
            [self.speakers[i] for i in idx],
            [self.sources[i] for i in idx],
            [self.paths[i] for i in idx],
        )

    def counts(self) -> dict[str, int]:
        """Number of clips per class name, in LABELS order (classes with no clip included as 0)."""
        c = Counter(int(l) for l in self.labels)
        return {name: c.get(i, 0) for i, name in enumerate(LABELS)}

    def split_by_speaker(self, validation_fraction: float = VAL_FRACTION, salt: str = SPLIT_SALT) -> tuple["ClipSet", "ClipSet"]:
        """(train, validation) with no speaker on both sides (see `speaker_split`)."""
        is_val = speaker_split(self.speakers, validation_fraction, salt)
        return self.subset(~is_val), self.subset(is_val)

    @staticmethod
    def concat(sets: Iterable["ClipSet"]) -> "ClipSet":
        """All clips of several sets, in order."""
        sets = list(sets)
        if not sets:
            return empty_clipset()
        return ClipSet(
            np.concatenate([s.audio for s in sets]),
            np.concatenate([s.labels for s in sets]),
            [w for s in sets for w in s.words],
            [w for s in sets for w in s.speakers],
            [w for s in sets for w in s.sources],
            [w for s in sets for w in s.paths],
        )


def empty_clipset() -> ClipSet:
    return ClipSet(np.zeros((0, CLIP_SAMPLES), np.int16), np.zeros(0, np.int64), [], [], [], [])


def speaker_split(speakers: Sequence[str], validation_fraction: float = VAL_FRACTION, salt: str = SPLIT_SALT) -> np.ndarray:
    """Boolean mask, True = validation: sha1(salt + speaker) as a number in [0, 1) < validation_fraction."""
    if not 0.0 <= validation_fraction <= 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1], not {validation_fraction}")

    @functools.lru_cache(maxsize=None)
    def side(speaker: str) -> bool:
        h = int.from_bytes(hashlib.sha1((salt + speaker).encode()).digest()[:8], "big")
        return h / 2.0**64 < validation_fraction

    return np.array([side(s) for s in speakers], dtype=bool)


# ---------------------------------------------------------------------------------------------
# Reading many files: progress bar, counted skips, one warning.


@dataclass
class _Item:
    path: Path
    word: str
    speaker: str
    source: str


def _load_items(
    items: Sequence[_Item], desc: str, convert: bool, align: str, progress: bool
) -> ClipSet:
    audio = np.zeros((len(items), CLIP_SAMPLES), np.int16)
    keep: list[int] = []
    skipped: list[tuple[Path, str]] = []
    for i, item in enumerate(tqdm(items, desc=desc, unit="clip", disable=not progress, leave=False)):
        try:
            audio[i] = fit_to_one_second(load_clip(item.path, SAMPLE_RATE, convert=convert), align=align)
            keep.append(i)
        except BitearError as e:
            skipped.append((item.path, str(e)))
    if skipped:
        first = "; ".join(msg for _, msg in skipped[:3])
        more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
        warnings.warn(f"{desc}: skipped {len(skipped)} of {len(items)} files: {first}{more}", SkippedFilesWarning, stacklevel=3)
    if items and not keep:
        raise BitearError(f"{desc}: none of the {len(items)} files could be loaded (first: {skipped[0][1]})")
    kept = [items[i] for i in keep]
    return ClipSet(
        audio[keep],
        np.array([label_of(it.word) for it in kept], dtype=np.int64),
        [it.word for it in kept],
        [it.speaker for it in kept],
        [it.source for it in kept],
        [str(it.path) for it in kept],
    )


def _require_dir(root: str | Path, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise BitearError(f"{what} folder not found: {root}")
    return root


def _wavs(folder: Path) -> list[Path]:
    """WAV files of a folder (also `*.wav.wav`), sorted by name for a deterministic order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(".wav"))


def _sc_speaker(name: str) -> str:
    """Speaker id of a Speech Commands file name `<speaker>_nohash_<n>.wav`: the part before `_nohash_`."""
    return name.split("_nohash_")[0]


# ---------------------------------------------------------------------------------------------
# Speech Commands


def is_test_layout(root: str | Path) -> bool:
    """True when `root` holds `_silence_`/`_unknown_` class folders (the test-set layout)."""
    root = Path(root)
    return (root / "_unknown_").is_dir() or (root / "_silence_").is_dir()


def load_speech_commands(
    root: str | Path,
    split: str | None = None,
    *,
    convert: bool = False,
    progress: bool = True,
    **full_layout_options,
) -> ClipSet:
    """Load either Speech Commands layout (detected from the folders).

    Test-set layout: `split` must be None or "test" (the folder is one split; use `split_by_speaker`).
    Full layout: `split` is "train", "validation" or "test" (default "train"); see `load_speech_commands_full`.
    """
    root = _require_dir(root, "Speech Commands")
    if is_test_layout(root):
        if split not in (None, "test"):
            raise BitearError(f"{root} is a test-set layout (one split only); use split=None and ClipSet.split_by_speaker")
        return load_speech_commands_test_layout(root, convert=convert, progress=progress)
    return load_speech_commands_full(root, split or "train", convert=convert, progress=progress, **full_layout_options)


def load_speech_commands_test_layout(root: str | Path, *, convert: bool = False, progress: bool = True) -> ClipSet:
    """The test-set layout: `_silence_`, `_unknown_` and keyword folders (other folders are ignored)."""
    root = _require_dir(root, "Speech Commands")
    items: list[_Item] = []
    for name in LABELS:
        folder = root / name
        if not folder.is_dir():
            continue
        for p in _wavs(folder):
            if name == "_silence_":
                items.append(_Item(p, "_silence_", f"silence-{p.name.split('.')[0]}", "speech_commands"))
            elif name == "_unknown_":
                word, _, rest = p.name.partition("_")
                items.append(_Item(p, word, _sc_speaker(rest), "speech_commands"))
            else:
                items.append(_Item(p, name, _sc_speaker(p.name), "speech_commands"))
    if not items:
        raise BitearError(f"{root}: no WAV files in any of the class folders {', '.join(LABELS)}")
    return _load_items(items, f"Speech Commands {root.name}", convert, "left", progress)


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def load_speech_commands_full(
    root: str | Path,
    split: str = "train",
    *,
    silence_fraction: float = 0.1,
    unknown_fraction: float | None = None,
    silence_rms: tuple[float, float] = (10.0, 3000.0),
    seed: int = 0,
    convert: bool = False,
    progress: bool = True,
) -> ClipSet:
    """The full layout: word folders + `validation_list.txt`/`testing_list.txt` + `_background_noise_/`.

    silence_fraction: silence clips to add, as a fraction of the word clips of the split (recipe: 10 %),
        each a random 1 s segment of `_background_noise_` scaled to an RMS drawn log-uniformly from
        `silence_rms` (the v2 test set's silence clips span RMS ~1 to ~10000, median ~600).
    unknown_fraction: if set, keep a random subset of non-keyword clips equal to this fraction of the
        keyword clips (recipe: 10 %); chosen before reading, so the full dataset loads quickly.
    """
    if split not in SPLITS:
        raise BitearError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    root = _require_dir(root, "Speech Commands")
    rng = np.random.default_rng(seed)
    validation, testing = _read_list(root / "validation_list.txt"), _read_list(root / "testing_list.txt")

    def split_of(rel: str) -> str:
        return "test" if rel in testing else "validation" if rel in validation else "train"

    keyword_items: list[_Item] = []
    unknown_items: list[_Item] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        for p in _wavs(folder):
            if split_of(f"{folder.name}/{p.name}") != split:
                continue
            item = _Item(p, folder.name, _sc_speaker(p.name), "speech_commands")
            (keyword_items if folder.name in KEYWORDS else unknown_items).append(item)
    if unknown_fraction is not None and len(unknown_items) > unknown_fraction * len(keyword_items):
        n_keep = int(round(unknown_fraction * len(keyword_items)))
        pick = np.sort(rng.choice(len(unknown_items), size=n_keep, replace=False))
        unknown_items = [unknown_items[i] for i in pick]
    items = keyword_items + unknown_items
    if not items:
        raise BitearError(f"{root}: no WAV files in word folders for split {split!r}")
    clips = _load_items(items, f"Speech Commands {root.name} ({split})", convert, "left", progress)

    n_silence = int(round(silence_fraction * len(clips)))
    noise_dir = root / "_background_noise_"
    if n_silence and noise_dir.is_dir():
        noise = BackgroundNoise.load(noise_dir, progress=False)
        audio = np.stack([noise.segment(rng, CLIP_SAMPLES, rms=log_uniform(rng, silence_rms)) for _ in range(n_silence)])
        silence = ClipSet(
            audio,
            np.full(n_silence, SILENCE, np.int64),
            ["_silence_"] * n_silence,
            [f"silence-{split}-{i}" for i in range(n_silence)],
            ["background_noise"] * n_silence,
            [str(noise_dir)] * n_silence,
        )
        clips = ClipSet.concat([clips, silence])
    return clips


def log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    """A level drawn log-uniformly from the range lo_hi (noise RMS of silence clips and stream gaps)."""
    lo, hi = lo_hi
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


# ---------------------------------------------------------------------------------------------
# FSDD

_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z0-9-]+)_(\d+)\.wav$")


def load_fsdd(root: str | Path, split: str | None = None, *, progress: bool = True) -> ClipSet:
    """Free Spoken Digit Dataset: all clips `_unknown_`, resampled 8 -> 16 kHz, centred in 1 s.

    split: None (all), "test" (index 0-4, the official test split) or "train" (index >= 5).
    Files whose name does not follow `{digit}_{speaker}_{index}.wav` are ignored.
    """
    if split not in (None, "train", "test"):
        raise BitearError(f"FSDD split must be None, 'train' or 'test', not {split!r}")
    root = _require_dir(root, "FSDD")
    items: list[_Item] = []
    for p in _wavs(root):
        m = _FSDD_NAME.match(p.name)
        if not m:
            continue
        digit, speaker, index = int(m.group(1)), m.group(2), int(m.group(3))
        if split is None or (split == "test") == (index < 5):
            items.append(_Item(p, FSDD_DIGITS[digit], speaker, "fsdd"))
    if not items:
        raise BitearError(f"{root}: no FSDD files named {{digit}}_{{speaker}}_{{index}}.wav")
    return _load_items(items, f"FSDD {root.name}" + (f" ({split})" if split else ""), True, "center", progress)


# ---------------------------------------------------------------------------------------------
# Background noise


@dataclass
class BackgroundNoise:
    """Long 16 kHz noise recordings, loaded once; draw random segments from them."""

    recordings: list[np.ndarray]
    names: list[str]

    @staticmethod
    def load(folder: str | Path, *, convert: bool = True, progress: bool = True) -> "BackgroundNoise":
        """Every WAV of `folder` (resampled/mixed down to 16 kHz mono by default); bad files skipped with a warning."""
        folder = _require_dir(folder, "background noise")
        paths = _wavs(folder)
        recordings, names, skipped = [], [], []
        for p in tqdm(paths, desc="background noise", disable=not progress, leave=False):
            try:
                recordings.append(load_clip(p, SAMPLE_RATE, convert=convert))
                names.append(p.stem)
            except BitearError as e:
                skipped.append(str(e))
        if skipped:
            warnings.warn(f"background noise {folder}: skipped {len(skipped)} of {len(paths)} files: {'; '.join(skipped[:3])}", SkippedFilesWarning, stacklevel=2)
        if not recordings:
            raise BitearError(f"{folder}: no usable background-noise WAV files")
        return BackgroundNoise(recordings, names)

    def segment(self, rng: np.random.Generator, n: int, rms: float | None = None) -> np.ndarray:
        """A random n-sample int16 segment of a random recording (looped if shorter); optionally scaled to `rms`."""
        x = self.recordings[int(rng.integers(len(self.recordings)))]
        if len(x) < n:
            x = np.tile(x, -(-n // len(x)))
        start = int(rng.integers(len(x) - n + 1))
        seg = x[start : start + n]
        if rms is None:
            return seg.copy()
        current = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))
        scaled = seg.astype(np.float64) * (rms / current if current > 0 else 0.0)
        return np.clip(np.round(scaled), -32768, 32767).astype(np.int16)


@functools.lru_cache(maxsize=1)
def shared_background_noise() -> BackgroundNoise:
    """`background_noise/` of the shared data folder, loaded once per process."""
    root = data_dir()
    if root is None or not (root / "background_noise").is_dir():
        raise BitearError("no background noise: set BITEAR_DATA to the data folder (with background_noise/) or pass recordings explicitly")
    return BackgroundNoise.load(root / "background_noise", progress=False)


def random_noise_segment(rng: np.random.Generator, n: int = CLIP_SAMPLES, noise: BackgroundNoise | None = None) -> np.ndarray:
    """A random n-sample int16 noise segment from `noise` (default: the shared background_noise/ folder)."""
    return (noise or shared_background_noise()).segment(rng, n)


def noise_silence_clips(rng: np.random.Generator, n: int, noise: BackgroundNoise | None = None, rms: tuple[float, float] = (10.0, 3000.0)) -> ClipSet:
    """n `_silence_` clips: random noise segments at a log-uniform RMS from `rms`."""
    noise = noise or shared_background_noise()
    audio = np.stack([noise.segment(rng, CLIP_SAMPLES, rms=log_uniform(rng, rms)) for _ in range(n)]) if n else np.zeros((0, CLIP_SAMPLES), np.int16)
    return ClipSet(audio, np.full(n, SILENCE, np.int64), ["_silence_"] * n, [f"noise-{i}" for i in range(n)], ["background_noise"] * n)


# ---------------------------------------------------------------------------------------------
# Any folder-per-class dataset (python -m model.train --dataset DIR)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3")
_NOHASH = "_nohash_"


@dataclass
class FolderDataset:
    """A folder-per-class dataset: clips labelled by index into `labels`, the optional noise, and
    what loading adjusted (counts of resampled, mixed-down, cut and padded clips; skipped files)."""

    clips: ClipSet
    labels: list[str]
    noise: BackgroundNoise | None
    adjusted: dict[str, int]

    def report(self) -> str:
        per_class = Counter(int(l) for l in self.clips.labels)
        classes = ", ".join(f"{name} {per_class.get(i, 0)}" for i, name in enumerate(self.labels))
        changes = ", ".join(f"{k} {v}" for k, v in self.adjusted.items())
        return f"{len(self.clips)} clips of {len(self.labels)} classes ({classes}); adjusted: {changes}"


def folder_speaker(path: Path) -> str:
    """The speaker of a file: the id before `_nohash_` (Speech Commands: `{speaker}_nohash_{n}`, or
    `{word}_{speaker}_nohash_{n}` in `_unknown_`), else the middle of a `{word}_{speaker}_{n}` name
    (FSDD), else the file itself (each file its own speaker)."""
    name = path.name.split(".")[0]
    if _NOHASH in name:
        return name.split(_NOHASH)[0].split("_")[-1]
    parts = name.split("_")
    return parts[1] if len(parts) == 3 else f"{path.parent.name}/{name}"


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(AUDIO_SUFFIXES))


def load_folder_dataset(root: str | Path, *, clips_per_class: int | None = None, seed: int = 0,
                        progress: bool = True) -> FolderDataset:
    """Every audio file of every class folder of `root` (see model.labels for the special names).

    Labels: the folder names, `_silence_`/`_unknown_` first when present, the rest sorted. Every clip is
    mixed down to mono and resampled to 16 kHz (soxr), then cut to its loudest second or padded with
    zeros on both sides to 1 s. Unreadable files are counted and skipped (one warning); fewer than two
    classes, a class folder without audio, label names the firmware cannot carry are BitearErrors.
    `clips_per_class`: keep that many clips per class, drawn with `seed` (a few-shot dataset)."""
    root = _require_dir(root, "dataset")
    folders = {p.name: p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != BACKGROUND_FOLDER}
    labels = order_labels(folders)
    if len(labels) < 2:
        raise BitearError(f"dataset {root}: {len(labels)} class folder(s) {labels}, expected at least 2 (one folder per label)")
    if len(labels) > MAX_CLASSES:
        raise BitearError(f"dataset {root}: {len(labels)} class folders, the firmware carries at most {MAX_CLASSES}")
    for name in labels:
        if not 1 <= len(name) <= MAX_LABEL_CHARS or not all(32 <= ord(ch) < 127 for ch in name):
            raise BitearError(f"dataset {root}: folder name {name!r} is not a label the firmware can carry "
                              f"(1 .. {MAX_LABEL_CHARS} printable ASCII characters)")
    rng = np.random.default_rng(seed)
    items: list[tuple[Path, int]] = []
    for index, name in enumerate(labels):
        files = _audio_files(folders[name])
        if not files:
            raise BitearError(f"dataset {root}: class folder {name}/ holds no audio file ({', '.join(AUDIO_SUFFIXES)})")
        if clips_per_class is not None and len(files) > clips_per_class:
            files = [files[i] for i in sorted(rng.choice(len(files), clips_per_class, replace=False))]
        items += [(p, index) for p in files]
    adjusted = Counter({"resampled": 0, "mixed down": 0, "cut to the loudest 1 s": 0, "padded to 1 s": 0, "skipped": 0})
    audio, kept, skipped = np.zeros((len(items), CLIP_SAMPLES), np.int16), [], []
    for i, (path, _) in enumerate(tqdm(items, desc=f"dataset {root.name}", unit="clip", disable=not progress, leave=False)):
        try:
            x, rate = read_wav(path)
        except BitearError as e:
            skipped.append(str(e))
            continue
        if x.ndim > 1 and x.shape[1] > 1:
            adjusted["mixed down"] += 1
        x = to_mono(x) if x.ndim > 1 else x
        if rate != SAMPLE_RATE:
            adjusted["resampled"] += 1
            x = resample(x, rate, SAMPLE_RATE)
        if len(x) != CLIP_SAMPLES:
            adjusted["cut to the loudest 1 s" if len(x) > CLIP_SAMPLES else "padded to 1 s"] += 1
        audio[i] = fit_to_one_second(x, align="center")
        kept.append(i)
    adjusted["skipped"] = len(skipped)
    if skipped:
        warnings.warn(f"dataset {root}: skipped {len(skipped)} of {len(items)} unreadable files: {'; '.join(skipped[:3])}"
                      + (f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""), SkippedFilesWarning, stacklevel=2)
    missing = [labels[c] for c in range(len(labels)) if not any(items[i][1] == c for i in kept)]
    if missing:
        raise BitearError(f"dataset {root}: no readable audio in class folder(s) {', '.join(m + '/' for m in missing)}")
    chosen = [items[i] for i in kept]
    clips = ClipSet(audio[kept], np.array([c for _, c in chosen], np.int64), [labels[c] for _, c in chosen],
                    [folder_speaker(p) for p, _ in chosen], ["dataset"] * len(chosen), [str(p) for p, _ in chosen])
    noise = BackgroundNoise.load(root / BACKGROUND_FOLDER, progress=progress) if (root / BACKGROUND_FOLDER).is_dir() else None
    return FolderDataset(clips, labels, noise, dict(adjusted))
