"""Size and cost table of the generated model (Larq-style summary): per layer shapes, weight bits,
bytes of tables in flash, MACs; totals for flash and RAM.

Bytes are those of the generated arrays (weights, thresholds, flip words, biases) as the C stores
them; "flash" adds descriptors, the entropy tables and the labels. "RAM" is the size of
bitear_model_t (activation arena with its padding rows, logits, scratch) as laid out by bitear_model.h,
including the optimized stem's scratch (the int8 window widened to int16 pairs). The figures of a compiled image (arm-none-eabi-size)
come from `make bench`.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

from codegen.generate import layout, packed_block_weights
from codegen.intmodel import IntModel


@dataclass
class Row:
    name: str
    kind: str
    in_len: int
    out_len: int
    cin: int
    cout: int
    kernel: int
    macs: int          # binary MACs for "binary", int8 MACs otherwise
    weight_bits: int
    table_bytes: int   # weights + thresholds + flips (+ bias) as stored


def rows(model: IntModel) -> list[Row]:
    """One row per layer in execution order; MACs and weight bits are the student's (layer_costs)."""
    costs = {c.name: c for c in model.layer_costs()}
    s = model.stem
    c = costs["stem"]
    out = [Row("stem", "int8", s.frames, s.out_len, s.bins, s.channels, s.kernel, c.macs, c.weight_bits,
               s.weights.size + 4 * s.channels + 4 * (s.channels // 32))]
    for b in model.blocks:
        w = packed_block_weights(b)
        c = costs[f"block{b.index}"]
        out.append(Row(c.name, "binary", b.in_len, b.out_len, b.cin, b.channels, b.kernel, c.macs, c.weight_bits,
                       4 * w.size + 2 * b.channels + 4 * (b.channels // 32)))
        if b.head is not None:
            h = model.heads[b.head]
            c = costs[f"exit{h.index}"]
            out.append(Row(c.name, "head", h.length, 1, h.channels, model.classes, 1, c.macs, c.weight_bits,
                           h.weights.size + 4 * model.classes))
    return out


def ram_bytes(model: IntModel) -> dict[str, int]:
    """sizeof(bitear_model_t) of the Cortex-M4 build, by field (ctypes lays the struct out like
    bitear_model.h with the same alignment rules as the Arm EABI for these types)."""
    lay = layout(model)
    E, C = len(model.heads), model.classes
    s = model.stem
    scratch = (s.frames + 2 * s.pad) * s.bins // 2 + s.kernel * s.bins  # optimized stem only
    u32, i32, u16, i16 = ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint16, ctypes.c_int16

    class Stats(ctypes.Structure):
        _fields_ = [("inferences", u32), ("exits", u32 * E), ("binary_macs", ctypes.c_uint64)]

    class Model(ctypes.Structure):
        _fields_ = [("act", u32 * lay.act_words), ("logits", i32 * (E * C)), ("entropy", u32 * E),
                    ("counts", u16 * max(h.channels for h in model.heads)), ("stem_scratch", u32 * scratch),
                    ("thresholds", i32 * max(1, E - 1)), ("last_exit", i16), ("stats", Stats), ("magic", u32)]

    names = {"act": "activations", "logits": "logits", "entropy": "entropy", "counts": "head counts",
             "stem_scratch": "stem scratch (M4 path)", "thresholds": "thresholds"}
    fields = {names[n]: getattr(Model, n).size for n in names}
    fields["state+stats+padding"] = ctypes.sizeof(Model) - sum(fields.values())
    return fields


def flash_bytes(model: IntModel) -> dict[str, int]:
    t = model.tables
    per_layer = sum(r.table_bytes for r in rows(model))
    return {
        "layer tables": per_layer,
        "descriptors": 28 + 40 * len(model.blocks) + 20 * len(model.heads),  # sizeof of the structs on the M4
        "thresholds": 4 * max(1, len(model.heads) - 1),
        "entropy tables": 4 * (len(t["exp_hi"]) + len(t["exp_lo"])) + 2 * len(t["ln"]) + 20,
        "labels": sum(len(label) + 1 for label in model.labels) + 4 * model.classes,
    }


def weights_bytes(model: IntModel) -> int:
    """Bytes of the weights alone (int8 stem and heads, packed binary blocks)."""
    return sum((r.weight_bits + 7) // 8 for r in rows(model))


def format_table(model: IntModel) -> str:
    lines = ["layer    kind    len in->out  ch in->out  k   MACs        weight bits  table bytes"]
    for r in rows(model):
        lines.append(f"{r.name:8} {r.kind:7} {r.in_len:4} -> {r.out_len:<4} {r.cin:4} -> {r.cout:<4} {r.kernel:2}  "
                     f"{r.macs:10,}  {r.weight_bits:11,}  {r.table_bytes:11,}")
    binary = sum(r.macs for r in rows(model) if r.kind == "binary")
    int8 = sum(r.macs for r in rows(model) if r.kind != "binary")
    to_exit, total = [], 0
    for r in rows(model):
        if r.kind == "binary":
            total += r.macs
        elif r.kind == "head":
            to_exit.append(total)
    flash, ram = flash_bytes(model), ram_bytes(model)
    lines.append(f"binary MACs: {binary:,} (full depth); to each exit: " + ", ".join(f"{m:,}" for m in to_exit))
    lines.append(f"int8 MACs: {int8:,} (stem + heads)")
    lines.append(f"weights: {weights_bytes(model):,} bytes")
    lines.append(f"flash (model tables): {sum(flash.values()):,} bytes  (" +
                 ", ".join(f"{k} {v:,}" for k, v in flash.items()) + ")")
    lines.append(f"RAM (bitear_model_t, Cortex-M4 build): {sum(ram.values()):,} bytes  (" +
                 ", ".join(f"{k} {v:,}" for k, v in ram.items()) + ")")
    return "\n".join(lines)
