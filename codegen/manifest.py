"""The codegen manifest: `bitear_model_manifest.json`, written beside the generated C tables.

It states the facts of the generated model that host tools need (labels, layer shapes, kernel /
stride / pad / skip, exits and their thresholds, MACs per layer, front-end parameters, the
checkpoint's sha256, the arena layout and the sha256 of the table files it describes: the C
header and source and their arrays sidecar `bitear_model_arrays.npz`), so host/evaluate.py,
host/bench.py and codegen/harness.py read them here instead of parsing C.
Like the tables it depends only on the checkpoint's bytes and the codegen version (byte-identical
across runs) and `python -m codegen --check` holds it to the checkpoint.

    manifest = read(folder)               # dict, checked against the tables in the same folder
    manifest["labels"], manifest["layers"], manifest["exits"], ...
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from codegen import intmodel as im
from codegen.files import ARRAYS_NAME, HEADER_NAME, SOURCE_NAME, STAMP
from model.errors import BitearError

MANIFEST_NAME = "bitear_model_manifest.json"
FORMAT = "bitear-model-manifest"
FORMAT_VERSION = 1
TABLE_FILES = (HEADER_NAME, SOURCE_NAME, ARRAYS_NAME)


def build(model: im.IntModel, layout, tables: dict[str, bytes]) -> dict:
    """The manifest of `model` laid out as `layout` (codegen.generate.Layout), whose generated
    table files (name -> bytes) are `tables`."""
    costs = {c.name: c for c in model.layer_costs()}
    s = model.stem
    layers = [{"name": "stem", "kind": "int8", "in_len": s.frames, "out_len": s.out_len, "cin": s.bins,
               "cout": s.channels, "kernel": s.kernel, "stride": s.stride, "pad": s.pad, "skip": s.skip,
               "macs": costs["stem"].macs, "weight_bits": costs["stem"].weight_bits}]
    exits, to_exit = [], 0
    for i, b in enumerate(model.blocks):
        cost = costs[f"block{b.index}"]
        to_exit += cost.macs
        layers.append({"name": cost.name, "kind": "binary", "in_len": b.in_len, "out_len": b.out_len, "cin": b.cin,
                       "cout": b.channels, "kernel": b.kernel, "stride": b.stride, "pad": b.pad, "skip": b.skip,
                       "macs": cost.macs, "weight_bits": cost.weight_bits, "head": b.head,
                       "in_offset": layout.block_in_offset[i], "out_offset": layout.block_out_offset[i]})
        if b.head is None:
            continue
        h = model.heads[b.head]
        cost = costs[f"exit{h.index}"]
        layers.append({"name": cost.name, "kind": "head", "block": h.block, "length": h.length, "cin": h.channels,
                       "cout": model.classes, "macs": cost.macs, "weight_bits": cost.weight_bits,
                       "frac_bits": h.frac_bits, "mult": h.mult, "shift": h.shift})
        early = h.index < len(model.heads) - 1
        exits.append({"index": h.index, "block": h.block, "binary_macs_to_exit": to_exit,
                      "threshold": model.exit_thresholds[h.index] if early and model.exit_thresholds else None,
                      "threshold_q16": model.exit_thresholds_q16[h.index] if early else None})
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generated_by": STAMP,
        "codegen_version": im.CODEGEN_VERSION,
        "checkpoint_sha256": model.checkpoint_sha256,
        "description": model.description,
        "labels": list(model.labels),
        "classes": model.classes,
        "frames": s.frames,
        "bins": s.bins,
        "time_padding": model.time_padding,
        "streamable": model.streamable,
        "stream_align_frames": model.stream_align_frames,
        "config": model.config,
        "layers": layers,
        "exits": exits,
        "exit_thresholds_q16": list(model.exit_thresholds_q16),
        "binary_macs_full": to_exit,
        "int8_macs": sum(c.macs for c in costs.values() if c.kind != "binary"),
        "weights_bytes": sum((c.weight_bits + 7) // 8 for c in costs.values()),
        "act_words": layout.act_words,
        "stem_out_offset": layout.stem_out_offset,
        "frontend": model.frontend,
        "tables_sha256": {name: hashlib.sha256(tables[name]).hexdigest() for name in TABLE_FILES},
    }


def dumps(manifest: dict) -> str:
    return json.dumps(manifest, indent=1) + "\n"


def read(folder: str | Path, check_tables: bool = True) -> dict:
    """The manifest in `folder`; with check_tables, also that the table files there are the ones it
    describes. Raises BitearError naming the file and the problem."""
    path = Path(folder) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except OSError as e:
        raise BitearError(f"{path}: cannot read the model manifest ({e.strerror}): run python -m codegen CHECKPOINT") from None
    except ValueError as e:
        raise BitearError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BitearError(f"{path}: field 'format' should be {FORMAT!r}, found {manifest.get('format') if isinstance(manifest, dict) else manifest!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BitearError(f"{path}: format_version {manifest.get('format_version')!r}, this code reads {FORMAT_VERSION}: "
                          "regenerate with python -m codegen CHECKPOINT")
    for key in ("labels", "classes", "layers", "exits", "checkpoint_sha256", "tables_sha256", "frames", "bins"):
        if key not in manifest:
            raise BitearError(f"{path}: field '{key}' is missing")
    if check_tables:
        for name in TABLE_FILES:
            table = Path(folder) / name
            try:
                digest = hashlib.sha256(table.read_bytes()).hexdigest()
            except OSError as e:
                raise BitearError(f"{table}: cannot read ({e.strerror}): run python -m codegen CHECKPOINT") from None
            if name not in manifest["tables_sha256"]:
                raise BitearError(f"{path}: field 'tables_sha256' has no entry for {name} (an older codegen wrote it): "
                                  "run python -m codegen CHECKPOINT to regenerate it")
            if digest != manifest["tables_sha256"][name]:
                raise BitearError(f"{path} describes other tables than {table} (sha256 differs): "
                                  "run python -m codegen CHECKPOINT to regenerate them")
    return manifest


def blocks(manifest: dict) -> list[dict]:
    return [layer for layer in manifest["layers"] if layer["kind"] == "binary"]


def heads(manifest: dict) -> list[dict]:
    return [layer for layer in manifest["layers"] if layer["kind"] == "head"]
