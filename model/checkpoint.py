"""Student checkpoints: safetensors tensors + one JSON metadata entry, read and checked with clear errors.

A checkpoint is ours when its safetensors metadata has a key "bitear" holding JSON with
`format == "bitear-student"` and a known `format_version`. The metadata carries everything a
user or the code generator needs besides the tensors: config, labels, front-end parameters,
exit thresholds, teacher hash, a description of the training data.

The reader here is plain numpy (no tinygrad) so `codegen` can use it, and every way a file
can be wrong — missing, truncated, not safetensors, not ours, wrong version, missing or
mis-shaped tensors — is a `BitearError` naming the file and the problem.

One validator for every user of a checkpoint (`model.evaluate`, `model.calibrate`, `codegen`, ...):
`read_checkpoint` refuses NaN or infinite weights, labels that are not `classes` distinct strings
the C string table and the READY banner can carry (printable ASCII, 1 .. 23 characters, 585 bytes
in all: `bitear_protocol.h`), and exit thresholds that are not finite numbers in [0, 1];
`check_frontend` refuses front-end parameters other than the C front end's (another hop, other
bins, ...), which `model.evaluate` and `codegen` both call before using the checkpoint.
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

from model.errors import BitearError
from model.facts import AUDIO_SAMPLES, MAX_BOARD_CHARS, MAX_CLASSES, MAX_LABEL_CHARS, MAX_MODEL_CHARS, READY_FIXED
from model.student import BinaryStudent, validate_config

FORMAT = "bitear-student"
FORMAT_VERSION = 1
METADATA_KEY = "bitear"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "kws12.safetensors"

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
REQUIRED_METADATA = ("config", "labels", "frontend", "exit_thresholds")
# Front-end fields that only warn when they differ: a comment edit changes the C sources' hash
# without changing a single feature value.
FRONTEND_WARN_ONLY = ("source_hash",)


# MAX_CLASSES (scores a RESULT carries) and MAX_LABEL_CHARS come from bitear_protocol.h through model.facts
# BITEAR_PROTO_READY_LABELS_BYTES: the largest body, less the fixed fields, board name and model id
READY_LABELS_BYTES = 4 + 2 * AUDIO_SAMPLES - READY_FIXED - (MAX_BOARD_CHARS + 1) - (MAX_MODEL_CHARS + 1)


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
    validate_content(path, tensors, meta, n_exits - 1)
    return tensors, meta


def validate_content(path: Path, tensors: dict[str, np.ndarray], meta: dict, early_exits: int) -> None:
    """Weights finite, labels and exit thresholds usable by the C and the protocol (module docstring)."""
    for name, value in tensors.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise BitearError(f"checkpoint {path}: tensor '{name}' contains NaN or infinite values")
    check_labels(path, meta["labels"], meta["config"]["classes"])
    thresholds = meta["exit_thresholds"]
    if not isinstance(thresholds, list) or len(thresholds) != early_exits:
        found = f"{len(thresholds)} exit thresholds" if isinstance(thresholds, list) else f"exit_thresholds {thresholds!r}"
        raise BitearError(f"checkpoint {path}: {found}, config has {early_exits} early exits")
    for i, t in enumerate(thresholds):
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t <= 1:
            raise BitearError(f"checkpoint {path}: exit threshold {i} is {t!r}, expected a number in [0, 1]")


def check_labels(path: Path, labels, classes: int) -> None:
    """`classes` distinct labels, each 1 .. MAX_LABEL_CHARS printable ASCII characters, all of them
    (with a NUL each) within READY_LABELS_BYTES."""
    if not isinstance(labels, list):
        raise BitearError(f"checkpoint {path}: labels are {type(labels).__name__} {labels!r}, expected a list of strings")
    if len(labels) != classes:
        raise BitearError(f"checkpoint {path}: {len(labels)} labels but config has {classes} classes")
    if not 2 <= classes <= MAX_CLASSES:
        raise BitearError(f"checkpoint {path}: {classes} classes, the firmware carries 2 .. {MAX_CLASSES}")
    for i, label in enumerate(labels):
        if not isinstance(label, str):
            raise BitearError(f"checkpoint {path}: label {i} is {type(label).__name__} {label!r}, expected a string")
        shown = repr(label) if len(label) <= 40 else f"{label[:40]!r}..."      # never echo 5,000 characters
        if not 1 <= len(label) <= MAX_LABEL_CHARS:
            raise BitearError(f"checkpoint {path}: label {i} {shown} has {len(label)} characters, "
                              f"the READY banner carries 1 .. {MAX_LABEL_CHARS}")
        if not all(32 <= ord(ch) < 127 for ch in label):
            raise BitearError(f"checkpoint {path}: label {i} {shown}: only printable ASCII fits the C string table")
    if len(set(labels)) != len(labels):
        raise BitearError(f"checkpoint {path}: labels repeat: {sorted({x for x in labels if labels.count(x) > 1})}")
    total = sum(len(label) + 1 for label in labels)
    if total > READY_LABELS_BYTES:
        raise BitearError(f"checkpoint {path}: the labels take {total} bytes with their NULs, "
                          f"the READY banner has room for {READY_LABELS_BYTES}")


def check_frontend(frontend, config: dict, current: dict | None, path: str | Path = "") -> list[str]:
    """Raise BitearError when the checkpoint's front end differs from the C front end's `current`
    parameters (None: not available, only the network's own shape is checked); return warnings."""
    where = f"checkpoint {path}" if path else "checkpoint"
    if not isinstance(frontend, dict):
        raise BitearError(f"{where}: metadata 'frontend' is not an object")
    for key, want in (("bins", config["bins"]), ("frames", config["frames"])):
        if key in frontend and frontend[key] != want:
            raise BitearError(f"{where}: front end gives {key} = {frontend[key]} but the network expects {want}")
    if current is None:
        return ["model.frontend is not available: front-end parameters not checked against the C front end"]
    warns = []
    for key in sorted(current):
        if key not in frontend:
            if key in FRONTEND_WARN_ONLY:
                warns.append(f"checkpoint has no front-end {key}: cannot tell whether the C front end changed")
                continue
            raise BitearError(f"{where}: front-end parameter '{key}' is missing (C front end has {current[key]!r})")
        if frontend[key] != current[key]:
            if key in FRONTEND_WARN_ONLY:
                warns.append(f"the C front end's sources changed since training ({key} differs): "
                             "features may differ, re-check accuracy or retrain")
                continue
            raise BitearError(f"{where}: front-end parameter '{key}' is {frontend[key]!r} but the C front end "
                              f"has {current[key]!r}: retrain with the current front end")
    return warns


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

    tensors, meta = read_checkpoint(path)
    student = BinaryStudent(meta["config"])
    state = nn.state.get_state_dict(student)
    for name, value in state.items():
        value.assign(Tensor(tensors[name], dtype=value.dtype)).realize()
    return student, meta
