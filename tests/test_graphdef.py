"""Tests of the TensorFlow-free GraphDef reader (model/graphdef.py).

A tiny protobuf *encoder* written here, independently of the decoder, builds GraphDef messages
by hand; the real DS_CNN_L.pb (shared data) is compared with the npz shipped in model/teacher_ds_cnn_l/.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest

from model.errors import BitearError
from model.graphdef import GraphDefError, npz_name, parse_graphdef, read_graphdef, read_graphdef_consts
from model.paths import TEACHER_DIR, data_dir


# ---- a minimal protobuf encoder (wire format only) -------------------------------------------
def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32/int64 are sent as 10-byte two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def f_varint(number: int, value: int) -> bytes:
    return varint(number << 3 | 0) + varint(value)


def f_bytes(number: int, payload: bytes | str) -> bytes:
    payload = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def f_float(number: int, value: float) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<f", value)


def f_double(number: int, value: float) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<d", value)


def shape(*dims: int) -> bytes:
    return b"".join(f_bytes(2, f_varint(1, d)) for d in dims)


def attr(key: str, value: bytes) -> bytes:
    return f_bytes(5, f_bytes(1, key) + f_bytes(2, value))


def node(name: str, op: str, inputs: list[str], *attrs: bytes) -> bytes:
    return f_bytes(1, f_bytes(1, name) + f_bytes(2, op) + b"".join(f_bytes(3, i) for i in inputs) + b"".join(attrs))


def const(name: str, tensor: bytes) -> bytes:
    return node(name, "Const", [], attr("dtype", f_varint(6, 1)), attr("value", f_bytes(8, tensor)))


W = np.arange(6, dtype=np.float32).reshape(2, 3) / 7 - 0.25
FLOATS = np.array([1.5, -2.25, 3.0], dtype=np.float32)


def tiny_graph() -> bytes:
    """A GraphDef with each way TF stores constants, a non-Const node with attributes, and unknown fields."""
    content = const("net/w", f_varint(1, 1) + f_bytes(2, shape(2, 3)) + f_bytes(4, W.tobytes()))
    int_unpacked = const("net/shape", f_varint(1, 3) + f_bytes(2, shape(2)) + f_varint(7, -1) + f_varint(7, 490))
    int_packed = const("net/packed", f_varint(1, 3) + f_bytes(2, shape(3)) + f_bytes(7, varint(-7) + varint(0) + varint(300)))
    float_packed = const("net/f", f_varint(1, 1) + f_bytes(2, shape(3)) + f_bytes(5, FLOATS.tobytes()))
    fill = const("net/fill", f_varint(1, 1) + f_bytes(2, shape(2, 2)) + f_float(5, 0.5))  # one value -> repeated
    scalar = const("net/scalar", f_varint(1, 2) + f_double(6, 2.5))  # DT_DOUBLE, no shape -> scalar
    op = node("net/conv", "Conv2D", ["input", "net/w"],
              attr("padding", f_bytes(2, b"SAME")),
              attr("strides", f_bytes(1, f_bytes(3, varint(1) + varint(2) + varint(1) + varint(1)))),
              attr("epsilon", f_float(4, 1e-3)),
              attr("is_training", f_varint(5, 0)),
              attr("T", f_varint(6, 1)),
              attr("k", f_varint(3, -5)))
    unknown = f_varint(99, 12345) + f_double(98, 1.0)  # fields a reader must skip
    versions = f_bytes(4, f_varint(1, 27))
    return content + unknown + int_unpacked + int_packed + float_packed + fill + scalar + op + versions


def test_decodes_hand_encoded_graph() -> None:
    nodes = parse_graphdef(tiny_graph())
    assert [n.name for n in nodes] == ["net/w", "net/shape", "net/packed", "net/f", "net/fill", "net/scalar", "net/conv"]
    conv = nodes[-1]
    assert conv.op == "Conv2D" and conv.inputs == ["input", "net/w"]
    assert conv.attrs["padding"] == b"SAME"
    assert conv.attrs["strides"] == {"i": [1, 2, 1, 1]}
    assert conv.attrs["epsilon"] == pytest.approx(1e-3)
    assert conv.attrs["is_training"] is False
    assert conv.attrs["T"] == 1 and conv.attrs["k"] == -5


def test_const_tensors_all_encodings(tmp_path) -> None:
    path = tmp_path / "tiny.pb"
    path.write_bytes(tiny_graph())
    consts = read_graphdef_consts(path)
    assert set(consts) == {"net/w", "net/shape", "net/packed", "net/f", "net/fill", "net/scalar"}
    assert consts["net/w"].dtype == np.float32 and np.array_equal(consts["net/w"], W)
    assert consts["net/shape"].dtype == np.int32 and consts["net/shape"].tolist() == [-1, 490]
    assert consts["net/packed"].tolist() == [-7, 0, 300]
    assert np.array_equal(consts["net/f"], FLOATS)
    assert consts["net/fill"].tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert consts["net/scalar"].shape == () and consts["net/scalar"].dtype == np.float64 and consts["net/scalar"] == 2.5


def test_truncated_file_names_file_and_offset(tmp_path) -> None:
    data = tiny_graph()
    path = tmp_path / "cut.pb"
    path.write_bytes(data[:40])  # inside the first node's tensor
    with pytest.raises(GraphDefError) as err:
        read_graphdef_consts(path)
    message = str(err.value)
    assert "cut.pb" in message and "byte offset 1:" in message  # the first node's length sits at offset 1
    assert isinstance(err.value, BitearError)


def test_every_truncation_is_a_clear_error_or_a_field_boundary() -> None:
    """Cut anywhere: either GraphDefError (never IndexError, struct.error, ...) or a cut between top-level fields."""
    data = tiny_graph()
    boundaries = set(_top_level_ends(data))
    for cut in range(1, len(data)):
        try:
            parse_graphdef(data[:cut], source="x.pb")
        except GraphDefError as exc:
            assert "x.pb" in str(exc) and "byte offset" in str(exc)
        else:
            assert cut in boundaries, f"cut at {cut} parsed without error"


def _top_level_ends(data: bytes) -> list[int]:
    """End offsets of the top-level fields of our own encoding (read with the test's own logic)."""
    ends, pos = [], 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _read_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            length, pos = _read_varint(data, pos)
            pos += length
        ends.append(pos)
    return ends


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def test_bad_length_and_wire_type() -> None:
    with pytest.raises(GraphDefError, match="wire type 3"):
        parse_graphdef(bytes([1 << 3 | 3]))
    bad_content = const("w", f_varint(1, 1) + f_bytes(2, shape(2, 3)) + f_bytes(4, b"\0" * 8))
    with pytest.raises(GraphDefError, match="tensor_content has 8 bytes"):
        parse_graphdef(bad_content)


def test_missing_file_is_clear(tmp_path) -> None:
    with pytest.raises(GraphDefError, match="nope.pb"):
        read_graphdef(tmp_path / "nope.pb")


# ---- the real teacher graph ------------------------------------------------------------------
def _teacher_folder():
    root = data_dir()
    folder = None if root is None else root / "teacher_ds_cnn_l"
    if folder is None or not (folder / "DS_CNN_L.pb").is_file():
        pytest.skip("shared data with teacher_ds_cnn_l/ not available")
    return folder


def test_real_graph_constants_equal_the_shipped_npz() -> None:
    folder = _teacher_folder()
    consts = {npz_name(k): v for k, v in read_graphdef_consts(folder / "DS_CNN_L.pb").items()}
    with np.load(TEACHER_DIR / "ds_cnn_l_weights.npz") as npz:
        assert set(consts) == set(npz.files)
        for key in npz.files:
            assert consts[key].dtype == npz[key].dtype, key
            assert np.array_equal(consts[key], npz[key]), key


def test_real_graph_structure() -> None:
    nodes = {n.name: n for n in read_graphdef(_teacher_folder() / "DS_CNN_L.pb")}
    assert nodes["Mfcc"].attrs["dct_coefficient_count"] == 10
    assert nodes["AudioSpectrogram"].attrs["window_size"] == 640
    conv = nodes["MobileNet/conv_1/Conv2D"]
    assert conv.attrs["strides"]["i"] == [1, 2, 1, 1] and conv.attrs["padding"] == b"SAME"
    assert nodes["MobileNet/conv_1/batch_norm/FusedBatchNorm"].attrs["epsilon"] == pytest.approx(1e-3)
