"""Read the constants of a frozen TensorFlow 1 GraphDef (.pb) without TensorFlow or protobuf.

A small decoder of the protobuf wire format (varint, 64-bit, length-delimited, 32-bit fields)
walks GraphDef -> NodeDef (name, op, input, attr map) -> AttrValue -> TensorProto and turns
every `Const` node into a numpy array:

    consts = read_graphdef_consts("DS_CNN_L.pb")   # {"MobileNet/conv_1/weights": ndarray, ...}
    nodes = read_graphdef("DS_CNN_L.pb")           # [Node(name, op, inputs, attrs), ...]

Field numbers follow tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,
types}.proto. A malformed or truncated file raises `GraphDefError` naming the file and the byte
offset where decoding failed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from model.errors import BitearError

# wire types
VARINT, I64, LEN, I32 = 0, 1, 2, 5

# DataType enum -> numpy dtype (the ones a frozen inference graph uses)
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),   # DT_FLOAT
    2: np.dtype("<f8"),   # DT_DOUBLE
    3: np.dtype("<i4"),   # DT_INT32
    4: np.dtype("u1"),    # DT_UINT8
    5: np.dtype("<i2"),   # DT_INT16
    6: np.dtype("i1"),    # DT_INT8
    9: np.dtype("<i8"),   # DT_INT64
    10: np.dtype("?"),    # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
}
DT_STRING = 7

# TensorProto field number of the typed repeated value list for each dtype
_VALUE_FIELD = {1: 5, 2: 6, 3: 7, 4: 7, 5: 7, 6: 7, 17: 7, 19: 13, 9: 10, 10: 11}


class GraphDefError(BitearError):
    """The .pb file is not a GraphDef this reader understands (names the file and byte offset)."""


@dataclass
class Node:
    """One NodeDef: attrs map attribute names to decoded values (int, float, bool, bytes, dtype
    number, shape list, ndarray for tensors, or a dict of lists for `list` attributes)."""
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


class _Reader:
    """Decodes fields of one message occupying buf[start:end]; offsets are absolute in the file."""

    def __init__(self, buf: memoryview, start: int, end: int, source: str):
        self.buf, self.pos, self.end, self.source = buf, start, end, source

    def fail(self, what: str, at: int | None = None) -> GraphDefError:
        return GraphDefError(f"{self.source}: malformed GraphDef at byte offset {self.pos if at is None else at}: {what}")

    def varint(self) -> int:
        result, shift, start = 0, 0, self.pos
        while True:
            if self.pos >= self.end:
                raise self.fail("truncated varint", start)
            byte = self.buf[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift >= 70:
                raise self.fail("varint longer than 10 bytes", start)

    def fixed(self, size: int) -> bytes:
        if self.pos + size > self.end:
            raise self.fail(f"truncated {size * 8}-bit field")
        data = bytes(self.buf[self.pos:self.pos + size])
        self.pos += size
        return data

    def fields(self) -> Iterator[tuple[int, int, Any]]:
        """Yield (field number, wire type, value); LEN values are (start, end) ranges into buf."""
        while self.pos < self.end:
            at = self.pos
            key = self.varint()
            number, wire = key >> 3, key & 7
            if number == 0:
                raise self.fail("field number 0", at)
            if wire == VARINT:
                yield number, wire, self.varint()
            elif wire == I64:
                yield number, wire, self.fixed(8)
            elif wire == I32:
                yield number, wire, self.fixed(4)
            elif wire == LEN:
                length_at = self.pos
                length = self.varint()
                if self.pos + length > self.end:
                    raise self.fail(f"length {length} runs past the end of its message (ends at {self.end})", length_at)
                yield number, wire, (self.pos, self.pos + length)
                self.pos += length
            else:
                raise self.fail(f"unsupported wire type {wire} (field {number})", at)

    def sub(self, span: tuple[int, int]) -> "_Reader":
        return _Reader(self.buf, span[0], span[1], self.source)

    def text(self, span: tuple[int, int]) -> str:
        try:
            return bytes(self.buf[span[0]:span[1]]).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("string is not UTF-8", span[0]) from None


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _repeated(r: _Reader, wire: int, value: Any, scalar: str) -> list:
    """Values of one occurrence of a repeated numeric field, packed (LEN) or not.

    scalar: 'varint' (signed 64-bit two's complement), 'f4', 'f8'.
    """
    if scalar == "varint":
        if wire == VARINT:
            return [_signed64(value)]
        if wire == LEN:
            inner = r.sub(value)
            out = []
            while inner.pos < inner.end:
                out.append(_signed64(inner.varint()))
            return out
    else:
        size, fmt = (4, "<f") if scalar == "f4" else (8, "<d")
        if wire == (I32 if size == 4 else I64):
            return [struct.unpack(fmt, value)[0]]
        if wire == LEN:
            start, end = value
            if (end - start) % size:
                raise r.fail(f"packed {scalar} data of {end - start} bytes", start)
            return list(np.frombuffer(r.buf[start:end], dtype=fmt))
    raise r.fail(f"unexpected wire type {wire} for a repeated {scalar} field")


def _shape(r: _Reader) -> list[int]:
    """TensorShapeProto: dim = 2 (Dim: size = 1), unknown_rank = 3 -> list of sizes (-1 unknown)."""
    dims = []
    for number, wire, value in r.fields():
        if number == 2 and wire == LEN:
            size = 0
            for n2, w2, v2 in r.sub(value).fields():
                if n2 == 1 and w2 == VARINT:
                    size = _signed64(v2)
            dims.append(size)
    return dims


def _tensor(r: _Reader) -> np.ndarray:
    """TensorProto: dtype = 1, tensor_shape = 2, tensor_content = 4, typed *_val lists."""
    start = r.pos
    dtype_num, shape, content = 0, [], None
    values: dict[int, list] = {}
    for number, wire, value in r.fields():
        if number == 1 and wire == VARINT:
            dtype_num = value
        elif number == 2 and wire == LEN:
            shape = _shape(r.sub(value))
        elif number == 4 and wire == LEN:
            content = bytes(r.buf[value[0]:value[1]])
        elif number in (5, 6, 7, 10, 11, 13):
            scalar = {5: "f4", 6: "f8"}.get(number, "varint")
            values.setdefault(number, []).extend(_repeated(r, wire, value, scalar))
    if dtype_num not in DTYPES:
        kind = "DT_STRING" if dtype_num == DT_STRING else f"DataType {dtype_num}"
        raise r.fail(f"tensor of unsupported {kind}", start)
    dtype, count = DTYPES[dtype_num], int(np.prod(shape, dtype=np.int64))
    if content is not None:
        if len(content) != count * dtype.itemsize:
            raise r.fail(f"tensor_content has {len(content)} bytes, shape {shape} of {dtype} needs "
                         f"{count * dtype.itemsize}", start)
        return np.frombuffer(content, dtype=dtype).reshape(shape).copy()
    listed = values.get(_VALUE_FIELD[dtype_num], [])
    if dtype_num == 19:  # DT_HALF travels as the uint16 bit patterns in half_val
        listed = list(np.array(listed, dtype=np.uint16).view(np.float16))
    if len(listed) > count:
        raise r.fail(f"{len(listed)} values for a tensor of shape {shape}", start)
    if count and not listed:
        return np.zeros(shape, dtype=dtype)
    # TF: when fewer values than elements are given, the last one is repeated
    filled = listed + [listed[-1]] * (count - len(listed)) if listed else []
    return np.array(filled, dtype=dtype).reshape(shape)


def _list_value(r: _Reader) -> dict[str, list]:
    """AttrValue.ListValue: s = 2, i = 3, f = 4, b = 5, type = 6, shape = 7, tensor = 8."""
    out: dict[str, list] = {}
    for number, wire, value in r.fields():
        if number == 2 and wire == LEN:
            out.setdefault("s", []).append(bytes(r.buf[value[0]:value[1]]))
        elif number in (3, 6):
            out.setdefault("i" if number == 3 else "type", []).extend(_repeated(r, wire, value, "varint"))
        elif number == 5:
            out.setdefault("b", []).extend(bool(v) for v in _repeated(r, wire, value, "varint"))
        elif number == 4:
            out.setdefault("f", []).extend(float(v) for v in _repeated(r, wire, value, "f4"))
        elif number == 7 and wire == LEN:
            out.setdefault("shape", []).append(_shape(r.sub(value)))
        elif number == 8 and wire == LEN:
            out.setdefault("tensor", []).append(_tensor(r.sub(value)))
    return out


def _attr_value(r: _Reader) -> Any:
    """AttrValue oneof: list = 1, s = 2, i = 3, f = 4, b = 5, type = 6, shape = 7, tensor = 8, placeholder = 9."""
    result: Any = None
    for number, wire, value in r.fields():
        if number == 1 and wire == LEN:
            result = _list_value(r.sub(value))
        elif number == 2 and wire == LEN:
            result = bytes(r.buf[value[0]:value[1]])
        elif number == 3 and wire == VARINT:
            result = _signed64(value)
        elif number == 4 and wire == I32:
            result = struct.unpack("<f", value)[0]
        elif number == 5 and wire == VARINT:
            result = bool(value)
        elif number == 6 and wire == VARINT:
            result = value
        elif number == 7 and wire == LEN:
            result = _shape(r.sub(value))
        elif number == 8 and wire == LEN:
            result = _tensor(r.sub(value))
        elif number == 9 and wire == LEN:
            result = r.text(value)
    return result


def _node(r: _Reader) -> Node:
    """NodeDef: name = 1, op = 2, input = 3, device = 4, attr = 5 (map entry: key = 1, value = 2)."""
    node = Node(name="", op="")
    for number, wire, value in r.fields():
        if wire != LEN:
            continue
        if number == 1:
            node.name = r.text(value)
        elif number == 2:
            node.op = r.text(value)
        elif number == 3:
            node.inputs.append(r.text(value))
        elif number == 5:
            key, attr = "", None
            for n2, w2, v2 in r.sub(value).fields():
                if n2 == 1 and w2 == LEN:
                    key = r.text(v2)
                elif n2 == 2 and w2 == LEN:
                    attr = _attr_value(r.sub(v2))
            node.attrs[key] = attr
    return node


def parse_graphdef(data: bytes, source: str = "<bytes>") -> list[Node]:
    """Decode a serialized GraphDef (node = 1; versions/library are skipped) into its nodes."""
    r = _Reader(memoryview(data), 0, len(data), source)
    return [_node(r.sub(value)) for number, wire, value in r.fields() if number == 1 and wire == LEN]


def read_graphdef(path: str | Path) -> list[Node]:
    """All nodes of a frozen GraphDef file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GraphDefError(f"cannot read GraphDef file {path}: {exc.strerror or exc}") from None
    return parse_graphdef(data, source=str(path))


def const_arrays(nodes: list[Node]) -> dict[str, np.ndarray]:
    """{node name: array} for every Const node (its `value` attribute)."""
    out = {}
    for node in nodes:
        if node.op == "Const":
            value = node.attrs.get("value")
            if not isinstance(value, np.ndarray):
                raise GraphDefError(f"Const node '{node.name}' has no tensor value")
            out[node.name] = value
    return out


def read_graphdef_consts(path: str | Path) -> dict[str, np.ndarray]:
    """{node name: array} for every Const node of a frozen GraphDef file."""
    return const_arrays(read_graphdef(path))


def npz_name(node_name: str) -> str:
    """The name a constant has in the teacher's npz: graph node name with '/' replaced by '__'."""
    return node_name.replace("/", "__")
