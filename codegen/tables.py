"""A tables folder read back (what `python -m codegen CKPT -o DIR` wrote): the integer model the firmware
computes, and the model's shapes and costs for the benchmarks. The one reader of the codegen manifest
for tools above codegen; the folder is always an argument.

    model = read_model(folder)            # codegen.intmodel.IntModel, from the manifest + the arrays sidecar
    tm = TablesModel(folder)              # shapes, MACs, thresholds, sha256 (no arrays needed)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from codegen import intmodel as im
from codegen import manifest as mf
from codegen.files import ARRAYS_NAME
from codegen.generate import array_name
from codegen.reference import unpack_bits
from model.errors import BitearError


class TablesModel:
    """Shapes and costs of the generated model, from the codegen manifest beside the tables (no checkpoint needed)."""

    def __init__(self, tables: Path):
        m = mf.read(tables)
        blocks = mf.blocks(m)
        self.blocks = len(blocks)
        self.exits = len(m["exits"])
        self.frames, self.bins = m["frames"], m["bins"]
        self.block_macs = [b["macs"] for b in blocks]
        self.block_head = [-1 if b["head"] is None else b["head"] for b in blocks]
        self.sha = m["checkpoint_sha256"]
        self.description = m["description"]
        self.default_thresholds = list(m["exit_thresholds_q16"])
        self.early_thresholds = [e["threshold"] for e in m["exits"] if e["threshold"] is not None]
        self.time_padding = m["time_padding"]
        self.weights_bytes = m["weights_bytes"]


def read_model(tables_dir: Path) -> im.IntModel:
    """The codegen.intmodel.IntModel that the generated tables in tables_dir encode: what the
    firmware computes. Shapes, pad / skip, exits, thresholds
    and labels come from the codegen manifest beside the tables; the integer arrays from the sidecar bitear_model_arrays.npz, which
    holds the arrays of bitear_model_tables.c by their C names (codegen.generate.model_arrays).
    The manifest must describe these very files (sha256 of the .h, .c and .npz)."""
    tables_dir = Path(tables_dir)
    m = mf.read(tables_dir)
    path = tables_dir / ARRAYS_NAME
    try:
        with np.load(path, allow_pickle=False) as npz:
            arr = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, KeyError) as e:
        raise BitearError(f"{path}: cannot read the model arrays ({e}): run python -m codegen CHECKPOINT") from None

    def get(layer: str, what: str) -> np.ndarray:
        name = array_name(layer, what)
        if name not in arr:
            raise BitearError(f"{path}: array {name} not found: run python -m codegen CHECKPOINT")
        return arr[name]

    classes = m["classes"]
    s = m["layers"][0]
    C, k, bins = s["cout"], s["kernel"], s["cin"]
    stem = im.StemInt(s["in_len"], bins, k, s["stride"], s["out_len"], C,
                      get("stem", "weights").reshape(C, k, bins).astype(np.int8), get("stem", "thresholds").astype(np.int32),
                      unpack_bits(get("stem", "flips").astype(np.uint32), C), np.ones(C, np.float32), s["pad"], s["skip"])
    blocks = []
    for i, b in enumerate(mf.blocks(m)):
        cin, cout, kernel, name = b["cin"], b["cout"], b["kernel"], f"block{i}"
        words = get(name, "weights").astype(np.uint32).reshape(cout, kernel, cin // 32)
        signs = (1 - 2 * unpack_bits(words, cin).astype(np.int8)).astype(np.int8)
        blocks.append(im.BlockInt(i, b["in_len"], cin, kernel, b["stride"], b["out_len"], cout, signs,
                                  get(name, "thresholds").astype(np.int32),
                                  unpack_bits(get(name, "flips").astype(np.uint32), cout), b["head"], b["pad"], b["skip"]))
    heads = []
    for i, h in enumerate(mf.heads(m)):
        channels = h["cin"]
        heads.append(im.HeadInt(i, h["block"], h["length"], channels,
                                get(f"head{i}", "weights").reshape(classes, channels).astype(np.int8),
                                np.zeros(classes, np.int64), get(f"head{i}", "bias").astype(np.int64), 1.0,
                                h["frac_bits"], h["mult"], h["shift"]))
    tables = im.entropy_tables()
    for name in ("exp_hi", "exp_lo", "ln"):
        if not np.array_equal(arr.get(array_name("entropy", name)), tables[name]):
            raise BitearError(f"{path}: entropy_{name} differs from codegen.intmodel's: run python -m codegen CHECKPOINT")
    return im.IntModel(m.get("config", {}), m["labels"], m.get("frontend", {}), stem, blocks, heads,
                       list(m["exit_thresholds_q16"]), m["checkpoint_sha256"], m.get("description", ""), tables,
                       [e["threshold"] for e in m["exits"][:-1]])
