"""bitear's serial protocol on the host: message dataclasses, encoders, a streaming decoder, and
BoardClient, a context manager that talks to a board over a pyserial port.

    from host.protocol import BoardClient
    with BoardClient(port) as board:                 # HELLO -> READY (raises on timeout)
        print(board.ready.board, board.ready.labels)
        board.set_detector(window_ms=1000, threshold_q15=22000, suppression_ms=1500, min_count=3)
        board.send_audio(samples)                     # int16, any length; waits for credit
        for msg in board.messages(timeout=1.0):       # Result / Detection / ... as they arrive
            ...
        print(board.get_stats().frames_dropped)

The specification is docs/protocol.md; the C side is firmware/lib/bitear/bitear_protocol.{h,c}
and both are tested against each other on the same frame vectors (tests/test_protocol.py).
A frame is COBS(payload) + 0x00, payload = [version][type][seq u16 LE][body][CRC-16/CCITT-FALSE,
big-endian]. The names of the STATS fields and of the status codes are read from the C headers,
so they cannot drift from the firmware.

`python -m host.protocol --c-vectors FILE` writes the frame vectors the Unity test on the
emulated board decodes (firmware/test/test_protocol/vectors.h).
"""
from __future__ import annotations

import argparse
import binascii
import collections
import re
import struct
import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import ClassVar, Iterator

import numpy as np

from model.errors import BitearError

C_DIR = Path(__file__).resolve().parent.parent / "firmware" / "lib" / "bitear"

VERSION = 1
HEADER_BYTES = 4
CRC_BYTES = 2
AUDIO_SAMPLES = 320                     # one 20 ms hop at 16 kHz per AUDIO frame
AUDIO_BODY = 4 + 2 * AUDIO_SAMPLES
MAX_BODY = AUDIO_BODY
MAX_PAYLOAD = HEADER_BYTES + MAX_BODY + CRC_BYTES
MAX_FRAME = MAX_PAYLOAD + MAX_PAYLOAD // 254 + 2
MAX_CLASSES = 32
EXIT_ALL = 0xFF
THRESHOLD_NEVER = -1
RESET_STATS = 0x01
RESET_STREAM = 0x02
COST_UNITS = {0: "instructions", 1: "cycles", 2: "microseconds"}


class MsgType(IntEnum):
    HELLO = 0x01
    AUDIO = 0x02
    SET_THRESHOLD = 0x03
    SET_DETECTOR = 0x04
    GET_STATS = 0x05
    RESET = 0x06
    READY = 0x81
    RESULT = 0x82
    DETECTION = 0x83
    STATS = 0x84
    ACK = 0x85
    CREDIT = 0x86


# Decoder counters, the same names and order as BITEAR_PROTO_DECODER_COUNTERS in C.
COUNTERS = ("frames", "cobs_errors", "empty_frames", "short_frames", "oversize", "crc_errors",
            "bad_version", "unknown_type", "bad_length")


def _macro_names(header: str, macro: str) -> tuple[str, ...]:
    """First arguments of the X(...) lines of an X-macro list in a C header."""
    text = (C_DIR / header).read_text()
    m = re.search(rf"#define {macro}\(X\)((?:.*\\\n)*.*\n)", text)
    if not m:
        raise BitearError(f"{C_DIR / header}: no {macro} list found")
    return tuple(re.findall(r"X\(\s*(\w+)\s*,", m[1]))


def _status_names() -> dict[int, str]:
    text = (C_DIR / "bitear_status.h").read_text()
    return {int(m[2]): m[1] for m in re.finditer(r'X\((BITEAR_\w+),\s*(-?\d+),\s*"([^"]*)"\)', text)}


STATS_FIELDS: tuple[str, ...] = _macro_names("bitear_protocol.h", "BITEAR_PROTO_STATS_LIST")
STATUS_NAMES: dict[int, str] = _status_names()


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"status {status}")


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
    Hello, Audio, SetThreshold, SetDetector, GetStats, Reset, Ready, Result, Detection, Stats, Ack, Credit)}

# Body length limits per type (as BITEAR_PROTO_MESSAGE_LIST in C): checked before parsing.
BODY_LIMITS: dict[int, tuple[int, int]] = {
    MsgType.HELLO: (0, 0), MsgType.AUDIO: (AUDIO_BODY, AUDIO_BODY), MsgType.SET_THRESHOLD: (5, 5),
    MsgType.SET_DETECTOR: (7, 7), MsgType.GET_STATS: (0, 0), MsgType.RESET: (1, 1),
    MsgType.READY: (10, MAX_BODY), MsgType.RESULT: (17, 17 + 2 * MAX_CLASSES), MsgType.DETECTION: (7, 7),
    MsgType.STATS: (1, MAX_BODY), MsgType.ACK: (5, 5), MsgType.CREDIT: (6, 6),
}


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


def encode_hello(seq: int) -> bytes:
    return encode(Hello(seq))


def encode_audio(seq: int, hop: int, samples: np.ndarray) -> bytes:
    return encode(Audio(hop, np.asarray(samples, "<i2").tobytes(), seq))


def encode_set_threshold(seq: int, exit_index: int, threshold_q16: int) -> bytes:
    return encode(SetThreshold(exit_index, threshold_q16, seq))


def encode_set_detector(seq: int, window_ms: int, threshold_q15: int, suppression_ms: int, min_count: int) -> bytes:
    return encode(SetDetector(window_ms, threshold_q15, suppression_ms, min_count, seq))


def encode_get_stats(seq: int) -> bytes:
    return encode(GetStats(seq))


def encode_reset(seq: int, flags: int = RESET_STATS | RESET_STREAM) -> bytes:
    return encode(Reset(flags, seq))


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


# ---- the board as seen from the host --------------------------------------------------------------

class BoardClient:
    """A bitear board on a pyserial port (a real serial port, or the emulator's socket).

    Entering sends HELLO and waits up to `ready_timeout` s for READY and the ACK (`.ready`).
    Commands wait up to `timeout` s for their ACK; a NACK raises BitearError naming the status.
    send_audio() sends AUDIO frames only while the board has granted credit (CREDIT: hop <
    limit), so a host faster than the board waits instead of overrunning it. READY, CREDIT and
    STATS update `.ready`, `.credit`, `.stats`; every other message (RESULT, DETECTION, ...) is
    kept in order for read()/messages(). The port stays open when the block ends (it belongs to
    the caller); its read timeout is set to `poll_s`.
    Errors: BitearError when the board does not answer in time or the port fails.
    """

    def __init__(self, port, timeout: float = 5.0, ready_timeout: float = 10.0, poll_s: float = 0.05):
        self.port = port
        self.timeout = timeout
        self.ready_timeout = ready_timeout
        self.decoder = FrameDecoder()
        self.ready: Ready | None = None
        self.credit: Credit | None = None
        self.stats: Stats | None = None     # the last STATS received
        self.next_hop = 0                   # hop index of the next AUDIO frame
        self._seq = 0
        self._inbox: collections.deque[Message] = collections.deque()
        self._pending = np.zeros(0, np.int16)   # samples short of a whole hop
        port.timeout = poll_s

    # -- context manager --
    def __enter__(self) -> "BoardClient":
        self.hello(self.ready_timeout)
        return self

    def __exit__(self, *exc) -> None:
        return None

    # -- I/O --
    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (OSError, ValueError) as err:  # serial.SerialException is an OSError
            raise BitearError(f"writing to the board failed ({err}): is it still connected?") from err

    def _pump(self) -> bool:
        """Read what the port has (waiting at most its timeout); True if a message arrived."""
        try:
            waiting = getattr(self.port, "in_waiting", 0)
            data = self.port.read(max(1, waiting))
        except (OSError, ValueError) as err:
            raise BitearError(f"the board went away: reading its port failed ({err})") from err
        got = False
        for msg in self.decoder.feed(data):
            if isinstance(msg, Credit):      # flow-control state, not for the caller's inbox
                self.credit = msg
            elif isinstance(msg, Ready):
                self.ready = msg
            elif isinstance(msg, Stats):
                self.stats = msg
            else:
                self._inbox.append(msg)
                got = True
        return got

    def send(self, msg_type: type[Message], *args, **kw) -> int:
        """Send a message with the next sequence number; returns that number."""
        seq = self._seq
        self._seq = (self._seq + 1) & 0xFFFF
        self._write(encode(msg_type(*args, seq=seq, **kw)))
        return seq

    def _wait(self, done, timeout: float, what: str) -> None:
        """Read from the port until done() is true; BitearError after timeout s."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                c = self.decoder.counters
                raise BitearError(f"no {what} from the board within {timeout:g} s (frames decoded {c['frames']}, "
                                  f"damaged {sum(c.values()) - c['frames']}): is the firmware running and speaking "
                                  f"protocol v{VERSION}?")
            self._pump()

    def wait_for(self, predicate, timeout: float, what: str) -> Message:
        """The first message in the inbox (already received or arriving within timeout) that
        matches predicate; it is taken out, the others stay. BitearError on timeout."""
        found: list[Message] = []

        def done() -> bool:
            for i, msg in enumerate(self._inbox):
                if predicate(msg):
                    found.append(msg)
                    del self._inbox[i]
                    return True
            return False

        self._wait(done, timeout, what)
        return found[0]

    def read(self, timeout: float = 0.0) -> Message | None:
        """The next message not yet taken (waiting up to timeout s), or None."""
        deadline = time.monotonic() + timeout
        while not self._inbox:
            if self._pump() or time.monotonic() >= deadline:
                break
        return self._inbox.popleft() if self._inbox else None

    def messages(self, timeout: float = 0.0) -> Iterator[Message]:
        """Messages as they come, until none arrives for `timeout` s."""
        while (msg := self.read(timeout)) is not None:
            yield msg

    # -- commands --
    def command(self, msg_type: type[Message], *args, timeout: float | None = None, **kw) -> Ack:
        seq = self.send(msg_type, *args, **kw)
        ack = self.wait_for(lambda m: isinstance(m, Ack) and m.ack_seq == seq, timeout or self.timeout,
                            f"ACK for {msg_type.TYPE.name} (seq {seq})")
        if not ack.ok:
            raise BitearError(f"the board refused {msg_type.TYPE.name}: {status_name(ack.status)}")
        return ack

    def hello(self, timeout: float | None = None) -> Ready:
        """HELLO -> READY, CREDIT, ACK; returns the READY (also kept as .ready)."""
        timeout = timeout or self.timeout
        self.ready = None
        seq = self.send(Hello)
        self._wait(lambda: self.ready is not None, timeout, "READY banner")
        self.wait_for(lambda m: isinstance(m, Ack) and m.ack_seq == seq, timeout, f"ACK for HELLO (seq {seq})")
        return self.ready

    def get_stats(self) -> Stats:
        """GET_STATS -> STATS (kept as .stats), ACK."""
        self.stats = None
        self.command(GetStats)
        if self.stats is None:
            raise BitearError("the board acknowledged GET_STATS but sent no STATS before the ACK")
        return self.stats

    def set_threshold(self, threshold_q16: int, exit_index: int = EXIT_ALL) -> None:
        self.command(SetThreshold, exit_index, threshold_q16)

    def set_full_depth(self) -> None:
        self.command(SetThreshold, EXIT_ALL, THRESHOLD_NEVER)

    def set_detector(self, window_ms: int, threshold_q15: int, suppression_ms: int, min_count: int) -> None:
        self.command(SetDetector, window_ms, threshold_q15, suppression_ms, min_count)

    def reset(self, stats: bool = True, stream: bool = True) -> None:
        """RESET; after a stream reset the next AUDIO is hop 0 again (the board sends a new CREDIT)."""
        self.command(Reset, (RESET_STATS if stats else 0) | (RESET_STREAM if stream else 0))
        if stream:
            self.next_hop = 0
            self._pending = np.zeros(0, np.int16)

    # -- audio --
    def send_audio(self, samples: np.ndarray, timeout: float | None = None) -> int:
        """Send int16 samples as AUDIO hops, waiting for credit before each; samples short of a
        whole hop (and, after an error, the hops not sent) wait for the next call. Returns the
        number of hops sent."""
        buf = np.concatenate([self._pending, np.asarray(samples, np.int16).ravel()])
        sent = 0
        try:
            while len(buf) - sent * AUDIO_SAMPLES >= AUDIO_SAMPLES:
                self.wait_credit(timeout or self.timeout)
                pcm = buf[sent * AUDIO_SAMPLES:(sent + 1) * AUDIO_SAMPLES].astype("<i2").tobytes()
                self.send(Audio, self.next_hop, pcm)
                self.next_hop += 1
                sent += 1
        finally:
            self._pending = buf[sent * AUDIO_SAMPLES:].copy()
        return sent

    def wait_credit(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.credit is None or self.next_hop >= self.credit.limit:
            if time.monotonic() > deadline:
                limit = "none" if self.credit is None else self.credit.limit
                raise BitearError(f"the board granted no credit for AUDIO hop {self.next_hop} within {timeout:g} s "
                                  f"(credit limit {limit}): it stopped consuming audio")
            self._pump()


# ---- frame vectors for the C tests ----------------------------------------------------------------

def example_messages() -> list[Message]:
    """One or more messages of every type, with edge values; the shared vectors of the C tests."""
    ramp = (np.arange(AUDIO_SAMPLES, dtype=np.int64) * 211 - 32768).astype("<i2")
    return [
        Hello(seq=0),
        Audio(0, np.zeros(AUDIO_SAMPLES, "<i2").tobytes(), seq=1),       # 640 zero bytes: many COBS blocks
        Audio(0xFFFFFFFF, ramp.tobytes(), seq=0xFFFF),
        SetThreshold(EXIT_ALL, THRESHOLD_NEVER, seq=2),
        SetThreshold(1, 19661, seq=3),
        SetDetector(1000, 22000, 1500, 3, seq=4),
        GetStats(seq=5),
        Reset(RESET_STATS | RESET_STREAM, seq=6),
        Ready(16000, 320, 2, 3, 0, "qemu_mps2_an386", "0f066307d9bed4e0",
              ("_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"), seq=0),
        Result(1234, 2, 1, 30000, 6553, 812345, tuple(range(0, 12 * 2700, 2700)), seq=1),
        Result(0, 0, 0, 0, 65536, 0, (), seq=2),
        Detection(49, 11, 32768, seq=3),
        Stats(tuple(range(1, len(STATS_FIELDS) + 1)), seq=4),
        Ack(6, MsgType.RESET, 0, seq=5),
        Ack(7, MsgType.SET_THRESHOLD, -2, seq=6),
        Credit(8, 8, seq=7),
    ]


def c_vectors_header() -> str:
    """A C header with example_messages() as encoded frames, for firmware/test/test_protocol."""
    lines = ["/* vectors.h - protocol frames encoded by host/protocol.py (example_messages()).",
             " * generated by: python -m host.protocol --c-vectors <this file>; do not edit.",
             " * tests/test_protocol.py checks that this file is up to date. */",
             "#ifndef BITEAR_PROTOCOL_VECTORS_H", "#define BITEAR_PROTOCOL_VECTORS_H", "", "#include <stdint.h>", ""]
    names = []
    for i, msg in enumerate(example_messages()):
        frame = encode(msg)
        name = f"vector_{i}_{msg.TYPE.name.lower()}"
        names.append((name, msg.TYPE, msg.seq, len(frame)))
        rows = ["    " + ", ".join(f"0x{b:02x}" for b in frame[j:j + 16]) + "," for j in range(0, len(frame), 16)]
        lines += [f"static const uint8_t {name}[{len(frame)}] = {{", *rows, "};"]
    lines += ["", "typedef struct { const uint8_t *frame; uint16_t len; uint8_t type; uint16_t seq; } vector_t;",
              "static const vector_t vectors[] = {"]
    lines += [f"    {{{name}, {n}, 0x{t:02x}, {seq}}}," for name, t, seq, n in names]
    lines += ["};", "#define VECTOR_COUNT (sizeof vectors / sizeof vectors[0])", "", "#endif", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--c-vectors", metavar="FILE", help="write the C header of example frames")
    args = ap.parse_args(argv)
    if args.c_vectors:
        Path(args.c_vectors).write_text(c_vectors_header())
    else:
        for msg in example_messages():
            print(f"{msg.TYPE.name:13} {encode(msg).hex(' ')}")


if __name__ == "__main__":
    main()
