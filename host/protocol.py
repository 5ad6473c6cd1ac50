"""bitear's serial protocol on the host, the wire format only: message dataclasses, framing
(COBS, CRC), parse/encode, and FrameDecoder, a streaming decoder with the C decoder's counters.

    from host import protocol as P
    frame = P.encode(P.SetDetector(750, 26214, 1500, 3, seq=4))     # bytes of one whole frame
    dec = P.FrameDecoder()
    for msg in dec.feed(data): ...                                  # Result, Detection, Ack, ...

The specification is docs/protocol.md; the C side is firmware/lib/bitear/bitear_protocol.{h,c}
and both are tested against each other on the same frame vectors (tests/test_protocol.py).
A frame is COBS(payload) + 0x00, payload = [version][type][seq u16 LE][body][CRC-16/CCITT-FALSE,
big-endian]. The message type codes and body limits, the decoder counters, the STATS fields and
the status codes come from the C headers (model.facts), so they cannot drift from the firmware.

Talking to a board (HELLO, credit, commands): host/board.py. The frame vectors of the Unity test:
firmware/test/test_protocol/make_vectors.py.
"""
from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

import numpy as np

from model.errors import BitearError
# Constants of the wire format, read from bitear_protocol.h / bitear_status.h (re-exported here).
from model.facts import (AUDIO_SAMPLES, COST_UNITS, CRC_BYTES, EXIT_ALL, HEADER_BYTES, HOP_MAX, MAX_BODY,
                         MAX_CLASSES, MAX_FRAME, MAX_PAYLOAD, MESSAGE_TYPES, RESET_STATS, RESET_STREAM, RESYNC_HOPS,
                         STATS_FIELDS, STATUS_NAMES, THRESHOLD_NEVER, status_name)
from model.facts import DECODER_COUNTERS as COUNTERS
from model.facts import PROTO_VERSION as VERSION

AUDIO_BODY = MESSAGE_TYPES["AUDIO"][1]          # hop index + AUDIO_SAMPLES int16

# Message type codes, as BITEAR_PROTO_MESSAGE_LIST in C: 0x01.. host -> board, 0x81.. board -> host.
MsgType = IntEnum("MsgType", {name: code for name, (code, _, _) in MESSAGE_TYPES.items()})


class ProtocolError(BitearError):
    """A damaged or unsupported frame. `kind` is the decoder counter it falls under; for frames
    that passed their CRC, `type` and `seq` identify the frame (else None)."""

    def __init__(self, kind: str, detail: str = "", type: int | None = None, seq: int | None = None):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind, self.type, self.seq = kind, type, seq


# ---- framing --------------------------------------------------------------------------------------

def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): b"123456789" -> 0x29B1."""
    return binascii.crc_hqx(data, crc)


def cobs_encode(data: bytes) -> bytes:
    """COBS without the delimiter, exactly as the C encoder writes it: a block of 254 data bytes
    is closed at once and the next block opens only when another byte follows (so a payload that
    ends with a full block gets no trailing 0x01); a zero always opens a new block."""
    out = bytearray()
    chunks = bytes(data).split(b"\0")
    for i, chunk in enumerate(chunks):
        pos = 0
        while len(chunk) - pos >= 254:
            out.append(0xFF)
            out += chunk[pos:pos + 254]
            pos += 254
        rest = chunk[pos:]
        last = i == len(chunks) - 1
        if rest or not last or (pos == 0 and len(data) > 0):
            out.append(len(rest) + 1)
            out += rest
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of cobs_encode (no 0x00 inside). ProtocolError('cobs_errors') when a block is cut short."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ProtocolError("cobs_errors", "0x00 inside a frame")
        end = i + code
        if end > n:
            raise ProtocolError("cobs_errors", f"block of {code - 1} bytes cut short")
        out += data[i + 1:end]
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


# ---- messages -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    """Base of all messages; `seq` is the sender's sequence number (16 bits)."""
    TYPE: ClassVar[MsgType]

    def body(self) -> bytes:
        return b""

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Message":
        if body:
            raise ProtocolError("bad_length", f"{cls.TYPE.name} has no body", cls.TYPE, seq)
        return cls(seq=seq)


@dataclass(frozen=True)
class Hello(Message):
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.HELLO


@dataclass(frozen=True)
class GetStats(Message):
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.GET_STATS


@dataclass(frozen=True)
class Audio(Message):
    hop: int
    pcm: bytes                           # AUDIO_SAMPLES int16 little-endian
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.AUDIO

    @property
    def samples(self) -> np.ndarray:
        return np.frombuffer(self.pcm, "<i2").astype(np.int16)

    def body(self) -> bytes:
        if len(self.pcm) != 2 * AUDIO_SAMPLES:
            raise ValueError(f"AUDIO carries exactly {AUDIO_SAMPLES} samples, got {len(self.pcm) / 2:g}")
        return struct.pack("<I", self.hop) + bytes(self.pcm)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Audio":
        return cls(struct.unpack_from("<I", body)[0], bytes(body[4:]), seq)


@dataclass(frozen=True)
class SetThreshold(Message):
    exit_index: int                      # 0 .. exits-2, or EXIT_ALL
    threshold_q16: int                   # 0 .. 65536, or THRESHOLD_NEVER
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.SET_THRESHOLD

    def body(self) -> bytes:
        return struct.pack("<Bi", self.exit_index, self.threshold_q16)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "SetThreshold":
        return cls(*struct.unpack("<Bi", body), seq=seq)


@dataclass(frozen=True)
class SetDetector(Message):
    window_ms: int
    threshold_q15: int
    suppression_ms: int
    min_count: int
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.SET_DETECTOR

    def body(self) -> bytes:
        return struct.pack("<HHHB", self.window_ms, self.threshold_q15, self.suppression_ms, self.min_count)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "SetDetector":
        return cls(*struct.unpack("<HHHB", body), seq=seq)


@dataclass(frozen=True)
class Reset(Message):
    flags: int = RESET_STATS | RESET_STREAM
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.RESET

    def body(self) -> bytes:
        return struct.pack("<B", self.flags)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Reset":
        return cls(body[0], seq)


@dataclass(frozen=True)
class SetPeriod(Message):
    infer_every: int                     # an inference every this many hops, 1 .. 255 (0 is refused)
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.SET_PERIOD

    def body(self) -> bytes:
        return struct.pack("<B", self.infer_every)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "SetPeriod":
        return cls(body[0], seq)


@dataclass(frozen=True)
class Ready(Message):
    sample_rate_hz: int
    hop_samples: int
    infer_every_hops: int
    exits: int
    cost_unit: int
    board: str
    model: str                           # checkpoint sha256 prefix (hex)
    labels: tuple[str, ...]
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.READY

    @property
    def classes(self) -> int:
        return len(self.labels)

    def body(self) -> bytes:
        strings = [self.board, self.model, *self.labels]
        if any("\0" in s for s in strings):
            raise ValueError("READY strings cannot contain NUL")
        return (struct.pack("<IHBBBB", self.sample_rate_hz, self.hop_samples, self.infer_every_hops,
                            len(self.labels), self.exits, self.cost_unit)
                + b"".join(s.encode("utf-8", "surrogateescape") + b"\0" for s in strings))

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Ready":
        rate, hop, every, classes, exits, unit = struct.unpack_from("<IHBBBB", body)
        strings = bytes(body[10:])
        if not strings.endswith(b"\0") or strings.count(0) != 2 + classes:
            raise ProtocolError("bad_length", f"READY needs 2 + {classes} NUL-terminated strings", cls.TYPE, seq)
        board, model, *labels = (s.decode("utf-8", "surrogateescape") for s in strings[:-1].split(b"\0"))
        return cls(rate, hop, every, exits, unit, board, model, tuple(labels), seq)


@dataclass(frozen=True)
class Result(Message):
    hop: int
    label: int
    exit_index: int
    score_q15: int
    entropy_q16: int
    cost: int
    scores_q15: tuple[int, ...] = ()
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.RESULT

    def body(self) -> bytes:
        if len(self.scores_q15) > MAX_CLASSES:
            raise ValueError(f"RESULT carries at most {MAX_CLASSES} scores")
        return (struct.pack("<IBBHIIB", self.hop, self.label, self.exit_index, self.score_q15, self.entropy_q16,
                            self.cost, len(self.scores_q15))
                + struct.pack(f"<{len(self.scores_q15)}H", *self.scores_q15))

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Result":
        hop, label, exit_index, score, entropy, cost, classes = struct.unpack_from("<IBBHIIB", body)
        if classes > MAX_CLASSES or len(body) != 17 + 2 * classes:
            raise ProtocolError("bad_length", f"RESULT with {classes} scores in {len(body)} bytes", cls.TYPE, seq)
        scores = struct.unpack_from(f"<{classes}H", body, 17)
        return cls(hop, label, exit_index, score, entropy, cost, tuple(scores), seq)


@dataclass(frozen=True)
class Detection(Message):
    hop: int
    label: int
    score_q15: int
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.DETECTION

    def body(self) -> bytes:
        return struct.pack("<IBH", self.hop, self.label, self.score_q15)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Detection":
        return cls(*struct.unpack("<IBH", body), seq=seq)


@dataclass(frozen=True)
class Stats(Message):
    """Board counters in STATS_FIELDS order (read from bitear_protocol.h); `stats.frames_dropped`
    etc. read them by name (0 for a field an older board does not send)."""
    values: tuple[int, ...]
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.STATS

    def __getattr__(self, name: str) -> int:
        if name in STATS_FIELDS:
            i = STATS_FIELDS.index(name)
            return self.values[i] if i < len(self.values) else 0
        raise AttributeError(name)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in STATS_FIELDS}

    def body(self) -> bytes:
        return struct.pack(f"<B{len(self.values)}I", len(self.values), *self.values)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Stats":
        """Values beyond STATS_FIELDS (a newer board) are dropped, missing ones are 0 (as in C)."""
        count = body[0]
        if len(body) != 1 + 4 * count:
            raise ProtocolError("bad_length", f"STATS with {count} values in {len(body)} bytes", cls.TYPE, seq)
        values = struct.unpack_from(f"<{count}I", body, 1) + (0,) * len(STATS_FIELDS)
        return cls(values[:len(STATS_FIELDS)], seq)


@dataclass(frozen=True)
class Ack(Message):
    ack_seq: int                         # seq of the command answered
    ack_type: int                        # its type
    status: int                          # 0 = done (ACK), negative bitear_status_t = refused (NACK)
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.ACK

    @property
    def ok(self) -> bool:
        return self.status == 0

    def body(self) -> bytes:
        return struct.pack("<HBh", self.ack_seq, self.ack_type, self.status)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Ack":
        return cls(*struct.unpack("<HBh", body), seq=seq)


@dataclass(frozen=True)
class Credit(Message):
    limit: int                           # AUDIO with hop < limit may be sent
    capacity: int                        # AUDIO frames the board can queue
    seq: int = 0
    TYPE: ClassVar[MsgType] = MsgType.CREDIT

    def body(self) -> bytes:
        return struct.pack("<IH", self.limit, self.capacity)

    @classmethod
    def parse(cls, body: bytes, seq: int) -> "Credit":
        return cls(*struct.unpack("<IH", body), seq=seq)


MESSAGE_CLASSES: dict[int, type[Message]] = {cls.TYPE: cls for cls in (
    Hello, Audio, SetThreshold, SetDetector, GetStats, Reset, SetPeriod, Ready, Result, Detection, Stats, Ack, Credit)}

# Body length limits per type (BITEAR_PROTO_MESSAGE_LIST in C): checked before parsing.
BODY_LIMITS: dict[int, tuple[int, int]] = {MsgType[name]: (lo, hi) for name, (_, lo, hi) in MESSAGE_TYPES.items()}


def payload_of(msg: Message) -> bytes:
    """The payload (before COBS): header, body, CRC (big-endian). ValueError for fields that do
    not fit their wire format."""
    try:
        body = msg.body()
    except struct.error as err:
        raise ValueError(f"{msg.TYPE.name}: a field is out of range ({err})") from err
    lo, hi = BODY_LIMITS[msg.TYPE]
    if not lo <= len(body) <= hi:
        raise ValueError(f"{msg.TYPE.name} body of {len(body)} bytes (allowed {lo}..{hi})")
    head = struct.pack("<BBH", VERSION, msg.TYPE, msg.seq & 0xFFFF) + body
    return head + struct.pack(">H", crc16(head))


def encode(msg: Message) -> bytes:
    """One whole frame: COBS(payload) + 0x00."""
    return cobs_encode(payload_of(msg)) + b"\0"


def parse(payload: bytes) -> Message:
    """Decode a payload (COBS removed, CRC included) or raise ProtocolError (kind = counter name)."""
    if len(payload) < HEADER_BYTES + CRC_BYTES:
        raise ProtocolError("short_frames", f"{len(payload)} bytes")
    if crc16(payload) != 0:
        raise ProtocolError("crc_errors")
    version, type_, seq = struct.unpack_from("<BBH", payload)
    if version != VERSION:
        raise ProtocolError("bad_version", f"version {version}, expected {VERSION}", type_, seq)
    cls = MESSAGE_CLASSES.get(type_)
    if cls is None:
        raise ProtocolError("unknown_type", f"type 0x{type_:02x}", type_, seq)
    body = payload[HEADER_BYTES:-CRC_BYTES]
    lo, hi = BODY_LIMITS[type_]
    if not lo <= len(body) <= hi:
        raise ProtocolError("bad_length", f"{cls.TYPE.name} body of {len(body)} bytes", type_, seq)
    return cls.parse(body, seq)


def decode(frame: bytes) -> Message:
    """Decode one frame (COBS bytes, with or without its trailing 0x00) exactly as the streaming
    decoder would; ProtocolError (kind = counter name) if it is damaged."""
    if frame.endswith(b"\0"):
        frame = frame[:-1]
    if 0 in frame:
        raise ProtocolError("cobs_errors", "0x00 inside a frame")
    dec = FrameDecoder()
    event = None
    for b in frame + b"\0":
        event = dec.feed_byte(b) or event
    if isinstance(event, Message):
        return event
    raise dec.last_error


# ---- streaming decoder ----------------------------------------------------------------------------

_IDLE, _BLOCK, _DISCARD = 0, 1, 2


class FrameDecoder:
    """Byte-by-byte decoder with the C decoder's state machine and counters (`counters[name]`).

    feed(data) returns the decoded messages; every damaged frame is counted once under its kind
    and skipped. feed_byte(b) returns None (need more), a Message, or the kind (str) of a frame
    just rejected — the same sequence of events the C decoder reports.
    """

    def __init__(self) -> None:
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.last_error: ProtocolError | None = None
        self.resync()

    def resync(self) -> None:
        self._buf = bytearray()
        self._state = _IDLE
        self._code = 0
        self._remaining = 0

    def _reject(self, err: ProtocolError) -> str:
        self.counters[err.kind] += 1
        self.last_error = err
        return err.kind

    def feed_byte(self, b: int) -> Message | str | None:
        if b == 0:
            state, buf, remaining = self._state, bytes(self._buf), self._remaining
            self.resync()
            if state == _DISCARD:
                return None
            if state == _IDLE:
                return self._reject(ProtocolError("empty_frames"))
            if remaining:
                return self._reject(ProtocolError("cobs_errors", f"block cut short by {remaining} bytes"))
            try:
                msg = parse(buf)
            except ProtocolError as err:
                return self._reject(err)
            self.counters["frames"] += 1
            return msg
        if self._state == _DISCARD:
            return None
        if self._state == _BLOCK and self._remaining:
            self._remaining -= 1
        else:
            zero = self._state == _BLOCK and self._code != 0xFF
            self._state, self._code, self._remaining = _BLOCK, b, b - 1
            if not zero:
                return None
            b = 0
        if len(self._buf) >= MAX_PAYLOAD:
            self.resync()
            self._state = _DISCARD
            return self._reject(ProtocolError("oversize", f"more than {MAX_PAYLOAD} bytes"))
        self._buf.append(b)
        return None

    def feed(self, data: bytes) -> list[Message]:
        out = []
        for b in data:
            event = self.feed_byte(b)
            if isinstance(event, Message):
                out.append(event)
        return out
