"""IntModel -> C: `bitear_model_tables.h` (sizes, declarations, bit order by example) and
`bitear_model_tables.c` (the constant tables, designated initializers), beside them the same
integer arrays as `bitear_model_arrays.npz` (model_arrays: name -> array, the one source of both;
host tools read the npz, never the C) and the manifest `bitear_model_manifest.json`
(codegen.manifest: the model's facts for host tools, with the sha256 of the three files above).

The output depends only on the checkpoint's bytes and the codegen version (no dates, no paths, no
dict-order accidents), so generating twice gives byte-identical files. Everything the C runtime
needs to size its buffers at compile time is a #define in the header.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codegen import intmodel as im, reference
from codegen import manifest
from codegen.files import ARRAYS_NAME, HEADER_NAME, SOURCE_NAME, STAMP
from codegen.intmodel import IntModel
from codegen.reference import pack_bits
from codegen.testing import random_features
from model.errors import BitearError
from model.labels import NEVER_EVENT_LABELS


@dataclass
class Layout:
    """Word offsets of the activation maps in the arena (see bitear_model.c). A block's input
    region is `pad` rows of +1, the previous layer's map (in_len rows), `pad` rows of +1; the block
    reads from block_in_offset (the region's first row) + skip rows. With pad = 0 there are no
    padding rows: the region is the map itself."""

    stem_out_offset: int
    block_in_offset: list[int]
    block_out_offset: list[int]
    act_words: int


def layout(model: IntModel) -> Layout:
    """Each block's input region holds pad rows, the map, pad rows; the last output has no padding."""
    base, bases = 0, []
    for b in model.blocks:
        bases.append(base)
        base += (b.in_len + 2 * b.pad) * (b.cin // 32)
    final_base = base
    last = model.blocks[-1]
    act_words = final_base + last.out_len * (last.channels // 32)
    first = model.blocks[0]
    stem_out = bases[0] + first.pad * (first.cin // 32)
    outs = []
    for i, b in enumerate(model.blocks):
        if i + 1 < len(model.blocks):
            nxt = model.blocks[i + 1]
            outs.append(bases[i + 1] + nxt.pad * (nxt.cin // 32))
        else:
            outs.append(final_base)
    if act_words >= 1 << 16:
        raise BitearError(f"model: activation arena of {act_words} words does not fit 16-bit offsets")
    return Layout(stem_out, bases, outs, act_words)


def array_name(layer: str, what: str) -> str:
    """Name of a constant array in bitear_model_tables.c and bitear_model_arrays.npz: layer "stem",
    "block<i>", "head<i>" with what "weights", "thresholds", "flips" or "bias", or layer "entropy"
    with "exp_hi", "exp_lo", "ln" (host.evaluate reads the arrays back from the npz by name)."""
    return f"{layer}_{what}"


def binary_macs(model: IntModel) -> list[int]:
    """Binary MACs of each block, from the student's cost formula (codegen.intmodel.layer_costs)."""
    costs = {c.name: c.macs for c in model.layer_costs()}
    return [costs[f"block{b.index}"] for b in model.blocks]


def packed_block_weights(block: im.BlockInt) -> np.ndarray:
    """uint32 [cout][kernel * in_words]: word j * in_words + w holds input channels 32w..32w+31 of tap j."""
    bits = (block.signs < 0).astype(np.uint8)  # [cout][k][cin]
    return pack_bits(bits).reshape(block.channels, -1)


def _ident(label: str) -> str:
    name = re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_").upper()
    return name if name and not name[0].isdigit() else f"L{name}"


def never_event_mask(labels) -> int:
    """Bit c set when class c is `_silence_` or `_unknown_` (model.datasets.NEVER_EVENT_LABELS): the
    detector never reports them."""
    return sum(1 << c for c, label in enumerate(labels) if label in NEVER_EVENT_LABELS)


def _c_string(text: str) -> str:
    if not all(32 <= ord(ch) < 127 for ch in text):
        raise BitearError(f"label {text!r}: only printable ASCII is supported in C tables")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array(values, fmt, per_line: int, indent: str = "    ") -> str:
    vals = [fmt(v) for v in np.asarray(values).reshape(-1).tolist()]
    lines = [indent + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line)]
    return "\n".join(lines)


def _hex32(v: int) -> str:
    return f"0x{int(v) & 0xFFFFFFFF:08X}u"


def _int32(v: int) -> str:
    v = int(v)
    return "INT32_MIN" if v == im.INT32_MIN else str(v)


def _comment_text(text: str) -> str:
    """Printable ASCII without comment terminators, on one line."""
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in " ".join(text.split()))
    return text.replace("*/", "* /")[:200]


def _banner(model: IntModel, name: str, what: str) -> str:
    desc = f" * checkpoint description: {_comment_text(model.description)}\n" if model.description else ""
    return (f"/*\n * {name} - {what}\n *\n * {STAMP}.\n"
            f" * checkpoint sha256: {model.checkpoint_sha256}\n{desc} * codegen version: {im.CODEGEN_VERSION}\n")


def _frontend_defines(model: IntModel) -> list[str]:
    out = []
    for key in sorted(model.frontend):
        value = model.frontend[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and not value.is_integer():
            continue
        out.append(f"#define BITEAR_MODEL_FRONTEND_{_ident(key)} ({int(value)})")
    return out


def emit_header(model: IntModel, lay: Layout) -> str:
    s, blocks, heads = model.stem, model.blocks, model.heads
    n_early = len(heads) - 1
    head_max = max(h.channels for h in heads)
    b0 = blocks[0]
    example_words = ", ".join(["0x00000000u"] * (b0.cin // 32))
    lines = [_banner(model, HEADER_NAME, "the binary keyword-spotting network as constant C tables.")[:-1]]
    lines.append(f""" *
 * Network: int8 stem {s.bins}x{s.kernel} -> {s.channels} (stride {s.stride}), {len(blocks)} binary blocks, {len(heads)} exit heads,
 * {model.classes} classes, time padding "{model.time_padding}" (as numbers: pad and skip of every layer's
 * descriptor). Sizes and costs: `python -m codegen` prints the table; bitear_model_manifest.json
 * beside this file lists the same facts for host tools.
 *
 * Bit order of packed maps and weights (bit 1 means -1, bit 0 means +1): channel c is bit c % 32
 * of word c / 32, i.e. value (1u << (c % 32)) in word c / 32. Examples:
 *   channel 0  -> word 0, 0x00000001u        channel 5  -> word 0, 0x00000020u
 *   channel 31 -> word 0, 0x80000000u        channel 33 -> word 1, 0x00000002u
 * A time step of {b0.cin} channels that are all +1 is {{{example_words}}}; making channel 33 -1
 * sets word 1 to 0x00000002u. Maps are channels-last, [t][C / 32] words. The weights of one
 * output channel of a binary block are laid out like an input patch: word j * (Cin / 32) + w
 * holds input channels 32w .. 32w + 31 of kernel tap j, so patch and weights are two contiguous
 * runs of kernel * Cin / 32 words. Stem weights are int8 [channel][tap][bin].
 *
 * Thresholds (batch norm + sign folded, exact; see codegen/intmodel.py):
 *   stem:   bit = (acc < threshold[c]) ^ flip(c)        acc = int8 dot product
 *   blocks: bit = (P > threshold[c]) ^ flip(c)          P = popcount(patch XOR weights[c])
 * flip(c) is bit c % 32 of flips[c / 32]; it is set where batch norm's gamma < 0. A channel with
 * gamma = 0 is constant: threshold INT32_MIN (stem) / -1 or K (blocks) with the flip giving its sign.
 *
 * Integer logits: real logits ~ logits * the head's scale in the comments below (the runtime
 * needs no float; the entropy uses the per-head integer multiplier).
 */""")
    lines.append(f"""#ifndef BITEAR_MODEL_TABLES_H
#define BITEAR_MODEL_TABLES_H

#include <stdint.h>

#include "bitear_kernels.h"

#define BITEAR_MODEL_SHA256 "{model.checkpoint_sha256}"
#define BITEAR_MODEL_CODEGEN_VERSION "{im.CODEGEN_VERSION}"

#define BITEAR_MODEL_FRAMES {s.frames}
#define BITEAR_MODEL_BINS {s.bins}
#define BITEAR_MODEL_CLASSES {model.classes}
#define BITEAR_MODEL_BLOCKS {len(blocks)}
#define BITEAR_MODEL_EXITS {len(heads)}
#define BITEAR_MODEL_STEM_KERNEL {s.kernel}
#define BITEAR_MODEL_STEM_STRIDE {s.stride}
#define BITEAR_MODEL_STEM_CHANNELS {s.channels}
#define BITEAR_MODEL_STEM_OUT_LEN {s.out_len}
#define BITEAR_MODEL_STEM_PAD {s.pad} /* sizes the optimized stem's scratch */
#define BITEAR_MODEL_STEM_OUT_OFFSET {lay.stem_out_offset}
#define BITEAR_MODEL_ACT_WORDS {lay.act_words}
#define BITEAR_MODEL_HEAD_MAX_CHANNELS {head_max}
#define BITEAR_MODEL_FULL_BINARY_MACS {sum(binary_macs(model))}
/* "valid" time padding: bitear_stream runs the network incrementally (bitear_stream_model.h). Its
 * result equals bitear_model_infer on the last 49 frames when the frames pushed are 49 + a multiple
 * of ALIGN_FRAMES (the product of the strides; 1 for the window runtime of "same" padding). */
#define BITEAR_MODEL_STREAMABLE {int(model.streamable)}
#define BITEAR_MODEL_STREAM_ALIGN_FRAMES {model.stream_align_frames}""")
    for b in blocks:
        lines.append(f"#define BITEAR_MODEL_BLOCK{b.index}_CHANNELS {b.channels}")
        lines.append(f"#define BITEAR_MODEL_BLOCK{b.index}_OUT_LEN {b.out_len}")
    for h in heads:
        lines.append(f"/* head {h.index}: real logit = logit * {h.scale / h.length / (1 << h.frac_bits):.9g} */")
    lines.append("")
    lines.append("/* Front-end parameters the model was trained with (checked against bitear_frontend.h). */")
    lines += _frontend_defines(model)
    lines.append("")
    lines.append("/* Class indices. */")
    for i, label in enumerate(model.labels):
        lines.append(f"#define BITEAR_MODEL_CLASS_{_ident(label)} {i}")
    never = [label for label in model.labels if label in NEVER_EVENT_LABELS]
    lines.append(f"/* Classes that never make a detection ({', '.join(never) or 'none'}): bit c is class c. */")
    lines.append(f"#define BITEAR_MODEL_NEVER_EVENT_MASK 0x{never_event_mask(model.labels):08x}u")
    lines.append(f"""
extern const bitear_stem_t bitear_model_stem;
extern const bitear_block_t bitear_model_blocks[BITEAR_MODEL_BLOCKS];
extern const bitear_head_t bitear_model_heads[BITEAR_MODEL_EXITS];
/* Default early-exit thresholds (normalized entropy, Q16; -1 = never), one per early exit. */
extern const int32_t bitear_model_default_thresholds_q16[{max(1, n_early)}];
extern const bitear_entropy_tables_t bitear_model_entropy_tables;
extern const char *const bitear_model_labels[BITEAR_MODEL_CLASSES];

#endif /* BITEAR_MODEL_TABLES_H */
""")
    return "\n".join(lines)


# C element type and default formatting (function, values per line) of each integer dtype in the tables.
C_TYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int16): "int16_t", np.dtype(np.int32): "int32_t",
           np.dtype(np.uint16): "uint16_t", np.dtype(np.uint32): "uint32_t"}
_FORMATS = {"int8_t": (str, 20), "int16_t": (str, 16), "int32_t": (_int32, 8), "uint16_t": (lambda v: f"{v}u", 10),
            "uint32_t": (_hex32, 6)}
_DECIMAL_U32 = (lambda v: f"{v}u", 8)   # the entropy tables are numbers, not bit patterns


def _fit(name: str, values, dtype) -> np.ndarray:
    """values as a flat array of dtype, or a BitearError if one does not fit (no silent wrap-around)."""
    values = np.asarray(values).reshape(-1)
    info = np.iinfo(dtype)
    if values.size and (values.min() < info.min or values.max() > info.max):
        raise BitearError(f"model: array {name} holds values in [{values.min()}, {values.max()}], "
                          f"outside {C_TYPES[np.dtype(dtype)]}")
    return values.astype(dtype)


def model_arrays(model: IntModel) -> dict[str, np.ndarray]:
    """Every `static const` integer array of bitear_model_tables.c, by its C name, flat, with the C
    element type as dtype: the one source of the values emit_source prints and of the sidecar
    bitear_model_arrays.npz that host.evaluate reads back (instead of parsing the C)."""
    out: dict[str, np.ndarray] = {}

    def put(layer: str, what: str, values, dtype) -> None:
        name = array_name(layer, what)
        out[name] = _fit(name, values, dtype)

    s = model.stem
    put("stem", "weights", s.weights, np.int8)
    put("stem", "thresholds", s.thresholds, np.int32)
    put("stem", "flips", pack_bits(s.flips), np.uint32)
    for b in model.blocks:
        put(f"block{b.index}", "weights", packed_block_weights(b), np.uint32)
        put(f"block{b.index}", "thresholds", b.thresholds, np.int16)
        put(f"block{b.index}", "flips", pack_bits(b.flips), np.uint32)
    for h in model.heads:
        put(f"head{h.index}", "weights", h.weights, np.int8)
        put(f"head{h.index}", "bias", h.bias_folded, np.int32)
    put("entropy", "exp_hi", model.tables["exp_hi"], np.uint32)
    put("entropy", "exp_lo", model.tables["exp_lo"], np.uint32)
    put("entropy", "ln", model.tables["ln"], np.uint16)
    return out


def _c_array(arrays: dict[str, np.ndarray], name: str, style: tuple | None = None) -> list[str]:
    """`static const <type> name[N] = {...};` of arrays[name], formatted by its C type unless
    style = (format function, values per line) says otherwise."""
    values = arrays[name]
    ctype = C_TYPES[values.dtype]
    fmt, per_line = style or _FORMATS[ctype]
    return [f"static const {ctype} {name}[{values.size}] = {{", _array(values, fmt, per_line), "};"]


def emit_source(model: IntModel, lay: Layout, arrays: dict[str, np.ndarray]) -> str:
    """bitear_model_tables.c; arrays is model_arrays(model)."""
    s = model.stem
    out = [_banner(model, SOURCE_NAME, "constant tables of the network (see bitear_model_tables.h).") + " */",
           '#include "bitear_model_tables.h"', ""]
    # stem
    w, t, f = (array_name("stem", what) for what in ("weights", "thresholds", "flips"))
    out.append(f"/* stem: int8 [{s.channels}][{s.kernel}][{s.bins}] */")
    for name in (w, t, f):
        out += _c_array(arrays, name)
    out.append(f"""const bitear_stem_t bitear_model_stem = {{
    .frames = {s.frames}, .bins = {s.bins}, .kernel = {s.kernel}, .stride = {s.stride},
    .out_len = {s.out_len}, .channels = {s.channels}, .pad = {s.pad}, .skip = {s.skip},
    .weights = {w}, .thresholds = {t}, .flips = {f},
}};
""")
    for b in model.blocks:
        out.append(f"/* block {b.index}: binary conv {b.cin} -> {b.channels}, kernel {b.kernel}, stride {b.stride}, "
                   f"{b.in_len} -> {b.out_len} steps; K = {b.k_bits} bits */")
        for what in ("weights", "thresholds", "flips"):
            out += _c_array(arrays, array_name(f"block{b.index}", what))
        out.append("")
    out.append("const bitear_block_t bitear_model_blocks[BITEAR_MODEL_BLOCKS] = {")
    macs = binary_macs(model)
    for i, b in enumerate(model.blocks):
        w, t, f = (array_name(f"block{i}", what) for what in ("weights", "thresholds", "flips"))
        out.append(f"""    [{i}] = {{
        .conv = {{
            .in_len = {b.in_len}, .in_words = {b.cin // 32}, .kernel = {b.kernel}, .stride = {b.stride},
            .out_len = {b.out_len}, .out_words = {b.channels // 32}, .pad = {b.pad}, .skip = {b.skip},
            .weights = {w}, .thresholds = {t}, .flips = {f},
        }},
        .in_offset = {lay.block_in_offset[i]}, .out_offset = {lay.block_out_offset[i]},
        .head = {-1 if b.head is None else b.head}, .binary_macs = {macs[i]}u,
    }},""")
    out.append("};")
    out.append("")
    for h in model.heads:
        out.append(f"/* head {h.index} after block {h.block}: int8 [{model.classes}][{h.channels}], scale {h.scale:.9g}, "
                   f"T = {h.length}, F = {h.frac_bits} */")
        out += _c_array(arrays, array_name(f"head{h.index}", "weights"))
        out += _c_array(arrays, array_name(f"head{h.index}", "bias"))
    out.append("")
    out.append("const bitear_head_t bitear_model_heads[BITEAR_MODEL_EXITS] = {")
    for h in model.heads:
        out.append(f"""    [{h.index}] = {{
        .length = {h.length}, .channels = {h.channels}, .classes = {model.classes},
        .step_shift = {h.frac_bits + 1}, .shift = {h.shift}, .mult = {h.mult}u,
        .weights = {array_name(f'head{h.index}', 'weights')}, .bias = {array_name(f'head{h.index}', 'bias')},
    }},""")
    out.append("};")
    out.append("")
    thr = model.exit_thresholds_q16 or [im.THRESHOLD_NEVER]
    out.append(f"const int32_t bitear_model_default_thresholds_q16[{len(thr)}] = {{")
    out.append(_array(thr, str, 8))
    out.append("};")
    out.append("")
    t = model.tables
    out += _c_array(arrays, "entropy_exp_hi", _DECIMAL_U32)
    out += _c_array(arrays, "entropy_exp_lo", _DECIMAL_U32)
    out += _c_array(arrays, "entropy_ln")
    out.append(f"""const bitear_entropy_tables_t bitear_model_entropy_tables = {{
    .exp_hi = entropy_exp_hi, .exp_lo = entropy_exp_lo, .ln = entropy_ln,
    .ln2_q16 = {t['ln2_q16']}u, .inv_ln_classes_q16 = {im.inv_ln_classes_q16(model.classes)}u,
}};
""")
    out.append("const char *const bitear_model_labels[BITEAR_MODEL_CLASSES] = {")
    for i, label in enumerate(model.labels):
        out.append(f"    [BITEAR_MODEL_CLASS_{_ident(label)}] = {_c_string(label)},")
    out.append("};")
    return "\n".join(out) + "\n"


def arrays_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """bitear_model_arrays.npz: a .npz (np.load reads it) with one <name>.npy per array, in sorted
    order, stored uncompressed with fixed zip dates and attributes, so equal arrays give equal bytes
    (np.savez stamps the current time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(arrays[name]), version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, 0o644 << 16
            zf.writestr(info, npy.getvalue())
    return buf.getvalue()


VECTORS_NAME = "model_vectors.h"
VECTOR_WINDOWS = 3


def emit_vectors(model: IntModel, n: int = VECTOR_WINDOWS, seed: int = 1234) -> str:
    """Test vectors for the on-board Unity test: feature windows and what the network must give
    (every exit's logits and entropy at full depth; exit and label at the default thresholds)."""
    x = random_features(np.random.default_rng(seed), n + 3, model.stem.frames, model.stem.bins)[3:]
    tr = reference.trace(model, x)
    res = reference.decide(model, tr)
    E, C = len(model.heads), model.classes
    lines = [_banner(model, VECTORS_NAME, "test vectors of the generated network for firmware/test/test_kernels.")
             + " */",
             "#ifndef BITEAR_MODEL_VECTORS_H", "#define BITEAR_MODEL_VECTORS_H", "", "#include <stdint.h>", "",
             f'#define VECTORS_MODEL_SHA256 "{model.checkpoint_sha256}"',
             f"#define VECTORS_WINDOWS {n}", ""]
    lines.append(f"static const int8_t vectors_features[{n}][{x.shape[1] * x.shape[2]}] = {{")
    for w in x:
        lines.append("    {")
        lines.append(_array(w, str, 20, indent="        "))
        lines.append("    },")
    lines.append("};")
    lines.append(f"/* full depth: integer logits of every exit */")
    lines.append(f"static const int32_t vectors_logits[{n}][{E}][{C}] = {{")
    for i in range(n):
        lines.append("    {" + " ".join("{" + ", ".join(str(int(v)) for v in tr.logits[e][i]) + "}," for e in range(E)) + "},")
    lines.append("};")
    lines.append(f"static const uint32_t vectors_entropy_q16[{n}][{E}] = {{")
    for i in range(n):
        lines.append("    {" + ", ".join(f"{int(tr.entropy_q16[e][i])}u" for e in range(E)) + "},")
    lines.append("};")
    lines.append("/* default thresholds: exit taken and label */")
    lines.append(f"static const int16_t vectors_exit[{n}] = {{" + ", ".join(str(int(v)) for v in res.exit_index) + "};")
    lines.append(f"static const int16_t vectors_label[{n}] = {{" + ", ".join(str(int(v)) for v in res.label) + "};")
    lines.append("")
    lines.append("#endif /* BITEAR_MODEL_VECTORS_H */")
    return "\n".join(lines) + "\n"


def write_vectors(model: IntModel, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_if_changed(path, emit_vectors(model).encode("ascii"))


def check_c_limits(model: IntModel) -> None:
    """Shapes the C runtime cannot hold: a clear error instead of a silent overflow."""
    s = model.stem
    if s.bins * s.frames >= 1 << 16 or s.frames >= 1 << 16:
        raise BitearError("model: input window too large for the runtime's 16-bit sizes")
    for b in model.blocks:
        if b.k_bits >= 1 << 15:
            raise BitearError(f"model: block {b.index} has {b.k_bits} bits per patch; int16 thresholds hold < 32768")
    for h in model.heads:
        if h.length * 1 >= 1 << 16:
            raise BitearError(f"model: head {h.index} counts over {h.length} steps; uint16 counts hold < 65536")
    if model.classes > 255:
        raise BitearError("model: more than 255 classes")
    idents = [_ident(label) for label in model.labels]
    if len(set(idents)) != len(idents):
        raise BitearError(f"labels {model.labels} do not give distinct C identifiers")


def _write_if_changed(path: Path, data: bytes) -> Path:
    """Write data to path unless it already holds it (keeps the mtimes of unchanged files)."""
    if not path.is_file() or path.read_bytes() != data:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def write(model: IntModel, out_dir: str | Path) -> list[Path]:
    """Write the header, the source, the arrays sidecar and the manifest into out_dir; returns their paths."""

    check_c_limits(model)
    lay = layout(model)
    arrays = model_arrays(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {HEADER_NAME: emit_header(model, lay).encode("ascii"),
              SOURCE_NAME: emit_source(model, lay, arrays).encode("ascii"), ARRAYS_NAME: arrays_npz(arrays)}
    paths = [_write_if_changed(out_dir / name, data) for name, data in tables.items()]
    text = manifest.dumps(manifest.build(model, lay, tables))
    paths.append(_write_if_changed(out_dir / manifest.MANIFEST_NAME, text.encode("ascii")))
    return paths
