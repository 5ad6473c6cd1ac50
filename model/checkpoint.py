"""Student checkpoints: safetensors tensors + one JSON metadata entry, read and checked with clear errors.

A checkpoint is ours when its safetensors metadata has a key "bitear" holding JSON with
`format == "bitear-student"` and a known `format_version`. The metadata carries everything a
user or the code generator needs besides the tensors: config, labels, front-end parameters,
exit thresholds, teacher hash, a description of the training data.

The reader here is plain numpy (no tinygrad) so `codegen` can use it, and every way a file
can be wrong — missing, truncated, not safetensors, not ours, wrong version, missing or
mis-shaped tensors — is a `BitearError` naming the file and the problem.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from model.errors import BitearError

FORMAT = "bitear-student"
FORMAT_VERSION = 1
METADATA_KEY = "bitear"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "kws12.safetensors"

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
REQUIRED_METADATA = ("config", "labels", "frontend", "exit_thresholds")


def read_safetensors(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """All tensors and the raw string metadata of a safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise BitearError(f"checkpoint {path}: file not found")
    blob = path.read_bytes()
    if len(blob) < 8:
        raise BitearError(f"checkpoint {path}: truncated ({len(blob)} bytes), not a safetensors file")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > len(blob) - 8:
        raise BitearError(f"checkpoint {path}: header claims {header_len} bytes but the file has {len(blob) - 8}: truncated or not safetensors")
    try:
        header = json.loads(blob[8:8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BitearError(f"checkpoint {path}: header is not valid JSON ({e}): corrupt or not safetensors") from None
    if not isinstance(header, dict):
        raise BitearError(f"checkpoint {path}: header is not a JSON object: not safetensors")
    metadata = header.pop("__metadata__", {}) or {}
    data = blob[8 + header_len:]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            begin, end = info["data_offsets"]
            shape = tuple(info["shape"])
        except (KeyError, TypeError, ValueError):
            raise BitearError(f"checkpoint {path}: tensor '{name}' has a malformed header entry") from None
        if not 0 <= begin <= end <= len(data):
            raise BitearError(f"checkpoint {path}: tensor '{name}' lies outside the file (bytes {begin}..{end} of {len(data)}): truncated")
        count = int(np.prod(shape)) if shape else 1
        if (end - begin) != count * np.dtype(dtype).itemsize:
            raise BitearError(f"checkpoint {path}: tensor '{name}' has {end - begin} bytes, shape {shape} needs {count * np.dtype(dtype).itemsize}")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
    return tensors, metadata


def read_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Tensors and parsed bitear metadata of a student checkpoint, checked against its own config."""
    from model.student import BinaryStudent, validate_config  # tinygrad only needed for the expected shapes

    path = Path(path)
    tensors, raw = read_safetensors(path)
    if METADATA_KEY not in raw:
        raise BitearError(f"checkpoint {path}: no '{METADATA_KEY}' metadata — not a bitear student checkpoint")
    try:
        meta = json.loads(raw[METADATA_KEY])
    except json.JSONDecodeError as e:
        raise BitearError(f"checkpoint {path}: '{METADATA_KEY}' metadata is not valid JSON ({e})") from None
    if meta.get("format") != FORMAT:
        raise BitearError(f"checkpoint {path}: format is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise BitearError(f"checkpoint {path}: format_version {meta.get('format_version')!r}, this bitear reads {FORMAT_VERSION}")
    for key in REQUIRED_METADATA:
        if key not in meta:
            raise BitearError(f"checkpoint {path}: metadata field '{key}' is missing")
    try:
        validate_config(meta["config"])
    except (ValueError, KeyError, TypeError) as e:
        raise BitearError(f"checkpoint {path}: {e}") from None
    expected = {k: tuple(v.shape) for k, v in _state_shapes(BinaryStudent(meta["config"])).items()}
    for name, shape in expected.items():
        if name not in tensors:
            raise BitearError(f"checkpoint {path}: tensor '{name}' is missing")
        if tuple(tensors[name].shape) != shape:
            raise BitearError(f"checkpoint {path}: tensor '{name}' has shape {tuple(tensors[name].shape)}, config expects {shape}")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise BitearError(f"checkpoint {path}: unexpected tensor '{unexpected[0]}' ({len(unexpected)} not in the config's student)")
    n_exits = sum(1 for b in meta["config"]["blocks"] if b.get("exit"))
    if len(meta["exit_thresholds"]) != n_exits - 1:
        raise BitearError(f"checkpoint {path}: {len(meta['exit_thresholds'])} exit thresholds, config has {n_exits - 1} early exits")
    return tensors, meta


def _state_shapes(student) -> dict:
    from tinygrad import nn
    return nn.state.get_state_dict(student)


def save_checkpoint(path: str | Path, student, metadata: dict) -> None:
    """Write the student's tensors and `metadata` (plus format fields and config) to a safetensors file."""
    from tinygrad import nn
    from tinygrad.nn.state import safe_save

    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": student.config, **metadata}
    for key in REQUIRED_METADATA:
        if key not in meta:
            raise ValueError(f"save_checkpoint: metadata field '{key}' is missing")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous().realize() for k, v in nn.state.get_state_dict(student).items()}
    safe_save(state, str(path), metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})


def load_checkpoint(path: str | Path):
    """A BinaryStudent with the checkpoint's weights, and its metadata."""
    from tinygrad import Tensor, nn
    from model.student import BinaryStudent

    tensors, meta = read_checkpoint(path)
    student = BinaryStudent(meta["config"])
    state = nn.state.get_state_dict(student)
    for name, value in state.items():
        value.assign(Tensor(tensors[name], dtype=value.dtype)).realize()
    return student, meta
