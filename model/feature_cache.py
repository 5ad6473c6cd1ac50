"""Front-end features of many clips, computed once and cached on disk (with a progress bar).

`features_cached(audio)` returns `model.frontend.compute_features(audio)` — (N, 49, 40) int8 for
(N, 16000) int16 — computing only clips not seen before. A clip's key is
sha1(front-end source hash + its audio bytes), so a change of the front end's C source (its
`FRONTEND_PARAMS['source_hash']`) can never serve stale features.

Storage: `cache_dir('features', <front-end hash prefix>)` holds immutable shards, one per computed
batch: `<id>.feats.npy` ((n, 49, 40) int8) then `<id>.keys.npy` ((n, 20) uint8 sha1 digests), each
written to a temporary name and renamed; a shard counts only once its keys file exists. So an
interrupted run keeps what it finished, and two processes can share the cache (at worst both compute
the same batch). Shards are memory-mapped when read.

Another extractor (a fake in tests, or another front end) can be passed with its own `source_hash`.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from model.facts import BINS, FRAMES
from model.frontend import FRONTEND_PARAMS, compute_features
from model.paths import cache_dir

Extractor = Callable[[np.ndarray], np.ndarray]
FEATURE_SHAPE = (FRAMES, BINS)


def _default_frontend() -> tuple[Extractor, str]:
    return compute_features, str(FRONTEND_PARAMS["source_hash"])


def clip_keys(audio: np.ndarray, source_hash: str) -> list[bytes]:
    """sha1(source_hash + clip bytes) for every clip of (N, 16000) int16 audio."""
    prefix = source_hash.encode()
    return [hashlib.sha1(prefix + np.ascontiguousarray(clip, dtype="<i2").tobytes()).digest() for clip in audio]


def _index(folder: Path) -> dict[bytes, tuple[str, int]]:
    """key -> (shard id, row) over all complete shards."""
    index: dict[bytes, tuple[str, int]] = {}
    for keys_path in sorted(folder.glob("*.keys.npy")):
        shard = keys_path.name[: -len(".keys.npy")]
        if not (folder / f"{shard}.feats.npy").is_file():
            continue
        for row, key in enumerate(np.load(keys_path)):
            index[key.tobytes()] = (shard, row)
    return index


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def features_cached(
    audio: np.ndarray,
    extractor: Extractor | None = None,
    source_hash: str | None = None,
    *,
    batch_size: int = 512,
    progress: bool = True,
    cache: Path | None = None,
) -> np.ndarray:
    """(N, 49, 40) int8 features of (N, 16000) int16 audio, from the disk cache where possible.

    extractor/source_hash: default `model.frontend.compute_features` and its FRONTEND_PARAMS['source_hash'];
    a custom extractor needs its own source_hash (it names the cache).
    """
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.dtype != np.int16:
        raise ValueError(f"audio must be (N, samples) int16, got {audio.shape} {audio.dtype}")
    if extractor is None:
        extractor, default_hash = _default_frontend()
        source_hash = source_hash or default_hash
    elif source_hash is None:
        raise ValueError("a custom extractor needs a source_hash to name its cache")
    folder = cache or cache_dir("features", hashlib.sha1(source_hash.encode()).hexdigest()[:16])
    folder.mkdir(parents=True, exist_ok=True)

    keys = clip_keys(audio, source_hash)
    index = _index(folder)
    out = np.zeros((len(audio), *FEATURE_SHAPE), np.int8)

    # Compute the missing clips (each distinct key once), one shard per batch.
    first_row: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        if k not in index:
            first_row.setdefault(k, i)
    missing = list(first_row.values())
    batches = [missing[s : s + batch_size] for s in range(0, len(missing), batch_size)]
    with tqdm(total=len(missing), desc="features", unit="clip", disable=not progress or not missing, leave=False) as bar:
        for rows in batches:
            feats = np.asarray(extractor(audio[rows]))
            if feats.shape != (len(rows), *FEATURE_SHAPE) or feats.dtype != np.int8:
                raise ValueError(f"extractor returned {feats.shape} {feats.dtype}, expected ({len(rows)}, 49, 40) int8")
            batch_keys = np.frombuffer(b"".join(keys[r] for r in rows), np.uint8).reshape(len(rows), 20)
            shard = hashlib.sha1(batch_keys.tobytes()).hexdigest()[:20]
            _save_atomic(folder / f"{shard}.feats.npy", feats)
            _save_atomic(folder / f"{shard}.keys.npy", batch_keys)
            for j, r in enumerate(rows):
                index[keys[r]] = (shard, j)
            bar.update(len(rows))

    # Gather every clip from its shard.
    by_shard: dict[str, list[tuple[int, int]]] = {}
    for i, k in enumerate(keys):
        shard, row = index[k]
        by_shard.setdefault(shard, []).append((i, row))
    for shard, pairs in by_shard.items():
        data = np.load(folder / f"{shard}.feats.npy", mmap_mode="r")
        dst, src = zip(*pairs)
        out[list(dst)] = data[list(src)]
    return out
