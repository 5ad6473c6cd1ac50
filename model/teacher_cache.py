"""On-disk cache of teacher logits, so training never runs the teacher twice on the same clip.

    logits = teacher_logits_cached(audio_int16)   # (N, 16000) int16 -> (N, 12) float32

A clip's key is the sha1 of its 16000 int16 samples (little-endian bytes, after the same cut /
zero-pad the teacher applies); keys live in a folder per teacher (first 16 hex digits of the
weights file's sha256) under `cache_dir("teacher")`. Each batch of newly computed clips is
written as one shard `<sha1 of its keys>.npz` (arrays `keys` (M, 20) uint8 and `logits` (M, 12)
float32) through a temporary file and an atomic rename, so a reader never sees half a shard,
concurrent writers at worst store the same rows twice, and an interrupted run keeps every shard
already written. Shards are only ever added; delete the folder to clear the cache.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model import mfcc as frontend
from model.paths import cache_dir
from model.teacher import LABELS, Teacher

KEY_BYTES = 20  # sha1
SHARD_CLIPS = 2048  # clips computed (and written) per shard
PROGRESS_MIN = 1000  # show a progress bar from this many missing clips


def clip_keys(audio: np.ndarray) -> np.ndarray:
    """(N, L) int16 -> (N, 20) uint8: sha1 of each clip's bytes after cut/pad to 16000 samples."""
    clips = np.ascontiguousarray(frontend.fit_length(audio), dtype="<i2")
    return np.array([np.frombuffer(hashlib.sha1(c.tobytes()).digest(), np.uint8) for c in clips],
                    dtype=np.uint8).reshape(-1, KEY_BYTES)


class TeacherCache:
    """Append-only store of (clip key -> logits) for one teacher, shared by processes via shard files."""

    def __init__(self, teacher_sha256: str, root: Path | None = None):
        self.folder = Path(root) if root is not None else cache_dir("teacher", teacher_sha256[:16])
        self.folder.mkdir(parents=True, exist_ok=True)
        self._rows: dict[bytes, np.ndarray] = {}
        self._loaded: set[str] = set()

    def refresh(self) -> None:
        """Read shards written since the last refresh (by this or another process)."""
        for shard in sorted(self.folder.glob("*.npz")):
            if shard.name in self._loaded:
                continue
            self._loaded.add(shard.name)
            try:
                with np.load(shard, allow_pickle=False) as z:
                    keys, logits = z["keys"], z["logits"]
                if keys.shape != (logits.shape[0], KEY_BYTES) or logits.shape[1:] != (len(LABELS),):
                    raise ValueError(f"shapes {keys.shape} and {logits.shape}")
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                warnings.warn(f"ignoring unreadable teacher cache shard {shard}: {exc}", stacklevel=2)
                continue
            for key, row in zip(keys, logits.astype(np.float32)):
                self._rows[key.tobytes()] = row

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits (N, 12) with zeros where unknown, found mask (N,) bool) for (N, 20) keys."""
        self.refresh()
        out = np.zeros((len(keys), len(LABELS)), dtype=np.float32)
        found = np.zeros(len(keys), dtype=bool)
        for i, key in enumerate(keys):
            row = self._rows.get(key.tobytes())
            if row is not None:
                out[i], found[i] = row, True
        return out, found

    def put(self, keys: np.ndarray, logits: np.ndarray) -> Path:
        """Write one shard atomically and remember its rows; returns the shard path."""
        keys = np.ascontiguousarray(keys, dtype=np.uint8)
        logits = np.ascontiguousarray(logits, dtype=np.float32)
        shard = self.folder / f"{hashlib.sha1(keys.tobytes()).hexdigest()[:24]}.npz"
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, keys=keys, logits=logits)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; other users may share the cache
            os.replace(tmp, shard)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._loaded.add(shard.name)
        for key, row in zip(keys, logits):
            self._rows[key.tobytes()] = row
        return shard


_TEACHERS: dict[str, Teacher] = {}
_CACHES: dict[tuple[str, str], TeacherCache] = {}


def default_teacher() -> Teacher:
    """The teacher from the shared data folder, loaded once per process."""
    if "default" not in _TEACHERS:
        _TEACHERS["default"] = Teacher.load()
    return _TEACHERS["default"]


def teacher_logits_cached(audio: np.ndarray, teacher: Teacher | None = None, backend: str = "tinygrad",
                          root: Path | None = None, progress: bool | None = None) -> np.ndarray:
    """Teacher logits (N, 12) float32 for (N, L) int16 clips, computing only clips not cached yet.

    backend: "tinygrad" (the model of record) or "numpy" (faster here; agrees to ~1e-5).
    progress: tqdm bar; default on when at least PROGRESS_MIN clips are missing.
    """
    audio = np.asarray(audio)
    if audio.dtype != np.int16 or audio.ndim != 2:
        raise TypeError(f"teacher_logits_cached expects (N, samples) int16 audio, got {audio.dtype} {audio.shape}")
    teacher = teacher or default_teacher()
    if not teacher.sha256:
        raise ValueError("teacher_logits_cached needs a teacher with a sha256 (use Teacher.load)")
    slot = (teacher.sha256, str(root))
    if slot not in _CACHES:
        _CACHES[slot] = TeacherCache(teacher.sha256, root)
    cache = _CACHES[slot]

    keys = clip_keys(audio)
    logits, found = cache.get(keys)
    missing = np.flatnonzero(~found)
    # compute each distinct missing clip once
    _, first = np.unique(keys[missing], axis=0, return_index=True)
    todo = missing[np.sort(first)]
    show = len(todo) >= PROGRESS_MIN if progress is None else progress
    with tqdm(total=len(todo), unit="clip", desc="teacher logits", disable=not show) as bar:
        for lo in range(0, len(todo), SHARD_CLIPS):
            idx = todo[lo:lo + SHARD_CLIPS]
            cache.put(keys[idx], teacher.logits(audio[idx], backend=backend))
            bar.update(len(idx))
    if len(todo):
        logits[missing] = cache.get(keys[missing])[0]
    return logits
