"""The malformed traffic of `python -m host.fuzz`: seeded generators of hostile line bytes, each
with what the board's *application* must do with it (the decoder's counters are predicted by a
host-side FrameDecoder fed the same bytes, host.fuzz.MirroredPort).

    traffic = Traffic(random.Random(7))
    item = traffic.item(expected_hop=40, seq=0x9000)   # a Garbage: bytes, kind, app effects
    port.write(item.data)

Every item ends with a 0x00 delimiter, so the clean frame after it decodes whole (docs/protocol.md
§1: a frame is lost with the garbage before it only when no 0x00 separates them). Frames that
pass their CRC and reach the application are made so that they cannot change the stream: commands
carry values the board refuses (SET_THRESHOLD above 1.0, SET_DETECTOR min_count 0, RESET with an
unknown flag, SET_PERIOD 0), AUDIO hops are stale or far off (§4). Garbage is short (the emulated UART moves
~40 kB/s) except the AUDIO-sized frames the far-off rule needs and the oversize frames.
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from host import protocol as P

MAX_SHORT = 40               # bytes of body in short garbage frames
HOST_TYPES = [code for name, (code, _, _) in P.MESSAGE_TYPES.items() if code < 0x80]
ALL_TYPES = [code for code, _, _ in P.MESSAGE_TYPES.values()]
UNKNOWN_TYPES = [t for t in range(256) if t not in ALL_TYPES]
U32_MAX = 0xFFFFFFFF


@dataclass
class Garbage:
    kind: str
    data: bytes
    app_bad: int = 0         # frames the application counts in STATS.bad_commands (refused values, stale/far hops)
    far_off: int = 0         # AUDIO hops refused as far off: each answered with a NACK (BITEAR_ERR_ARG)


def frame(payload: bytes) -> bytes:
    return P.cobs_encode(payload) + b"\0"


def payload(type_: int, seq: int, body: bytes, version: int = P.VERSION, good_crc: bool = True,
            flip: int = 1) -> bytes:
    head = struct.pack("<BBH", version, type_, seq & 0xFFFF) + body
    crc = P.crc16(head) ^ (0 if good_crc else flip)
    return head + struct.pack(">H", crc)


class Traffic:
    """Seeded hostile traffic. item() draws one Garbage; its kinds and their weights are KINDS."""

    KINDS = {"random_bytes": 6, "bad_crc": 6, "random_body": 10, "wrong_version": 3, "unknown_type": 3,
             "truncated": 5, "oversize": 1, "refused_command": 4, "stale_audio": 1, "far_off_audio": 1,
             "hop_ffffffff": 1}

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._kinds = list(self.KINDS)
        self._weights = [self.KINDS[k] for k in self._kinds]

    def item(self, expected_hop: int, seq: int) -> Garbage:
        """One garbage item; expected_hop is the board's next AUDIO hop, seq a sequence number
        far from the host's own (so a NACK of garbage is never mistaken for a command's ACK)."""
        kind = self.rng.choices(self._kinds, self._weights)[0]
        if kind == "stale_audio" and expected_hop == 0:
            kind = "far_off_audio"
        return getattr(self, kind)(expected_hop, seq)

    # -- the kinds --
    def _body(self, n: int | None = None) -> bytes:
        return self.rng.randbytes(self.rng.randint(0, MAX_SHORT) if n is None else n)

    def _no_message(self, draw) -> bytes:
        """draw() until its bytes decode to no message: a cut frame or random bytes pass their CRC
        by chance (1 in 65,536, far more often for a frame cut inside its own CRC) and would then be
        a working command (e.g. SET_DETECTOR with random values) whose effect nothing predicts."""
        while True:
            data = draw()
            if not P.FrameDecoder().feed(data):
                return data

    def random_bytes(self, hop: int, seq: int) -> Garbage:
        return Garbage("random_bytes", self._no_message(lambda: self.rng.randbytes(self.rng.randint(1, MAX_SHORT)) + b"\0"))

    def bad_crc(self, hop: int, seq: int) -> Garbage:
        data = payload(self.rng.choice(ALL_TYPES), seq, self._body(), good_crc=False, flip=self.rng.randint(1, 0xFFFF))
        return Garbage("bad_crc", frame(data))

    def random_body(self, hop: int, seq: int) -> Garbage:
        """Any message type, a random body with a good CRC. A body of a command's exact length
        would be a working command: those are drawn as refused_command / stale AUDIO instead."""
        type_ = self.rng.choice(ALL_TYPES)
        lo, hi = P.BODY_LIMITS[type_]
        body = self._body()
        if type_ < 0x80 and lo <= len(body) <= hi:
            if type_ == P.MsgType.AUDIO:
                return self.stale_audio(hop, seq) if hop > 0 else self.far_off_audio(hop, seq)
            return self.refused_command(hop, seq)
        return Garbage("random_body", frame(payload(type_, seq, body)))

    def wrong_version(self, hop: int, seq: int) -> Garbage:
        version = self.rng.choice([v for v in range(256) if v != P.VERSION])
        return Garbage("wrong_version", frame(payload(self.rng.choice(ALL_TYPES), seq, self._body(), version)))

    def unknown_type(self, hop: int, seq: int) -> Garbage:
        return Garbage("unknown_type", frame(payload(self.rng.choice(UNKNOWN_TYPES), seq, self._body())))

    def truncated(self, hop: int, seq: int) -> Garbage:
        """A whole frame (a command, or sometimes AUDIO) cut short, then its delimiter."""
        def draw() -> bytes:
            whole = frame(payload(self.rng.choice(HOST_TYPES), seq, self._body()))[:-1]
            return whole[:self.rng.randint(1, max(1, len(whole) - 1))] + b"\0"
        return Garbage("truncated", self._no_message(draw))

    def oversize(self, hop: int, seq: int) -> Garbage:
        n = P.MAX_PAYLOAD + self.rng.randint(1, 40)
        return Garbage("oversize", frame(self.rng.randbytes(n)))

    def refused_command(self, hop: int, seq: int) -> Garbage:
        """SET_THRESHOLD above 1.0 (q16 > 65536), SET_DETECTOR with min_count 0, RESET with an
        unknown flag, SET_PERIOD 0: each a good frame the board refuses (NACK BITEAR_ERR_ARG, bad_commands)."""
        which = self.rng.randrange(4)
        if which == 0:
            body = struct.pack("<Bi", self.rng.randrange(256), self.rng.randint(65537, 0x7FFFFFFF))
            type_ = P.MsgType.SET_THRESHOLD
        elif which == 1:
            body = struct.pack("<HHHB", self.rng.randrange(65536), self.rng.randrange(65536),
                               self.rng.randrange(65536), 0)
            type_ = P.MsgType.SET_DETECTOR
        elif which == 2:
            known = P.RESET_STATS | P.RESET_STREAM
            body = bytes([self.rng.randrange(256) & ~known | (1 << self.rng.randint(2, 7))])
            type_ = P.MsgType.RESET
        else:
            body = bytes([0])
            type_ = P.MsgType.SET_PERIOD
        return Garbage("refused_command", frame(payload(type_, seq, body)), app_bad=1)

    def _audio(self, kind: str, hop_value: int, seq: int, far: bool) -> Garbage:
        body = struct.pack("<I", hop_value) + self.rng.randbytes(2 * P.AUDIO_SAMPLES)
        return Garbage(kind, frame(payload(P.MsgType.AUDIO, seq, body)), app_bad=1, far_off=int(far))

    def stale_audio(self, hop: int, seq: int) -> Garbage:
        """A hop already taken (up to RESYNC_HOPS behind): dropped, bad_commands, no answer."""
        return self._audio("stale_audio", hop - self.rng.randint(1, min(hop, P.RESYNC_HOPS)), seq, far=False)

    def far_off_audio(self, hop: int, seq: int) -> Garbage:
        """A lone hop more than RESYNC_HOPS ahead (or far behind): refused with a NACK. The next
        AUDIO is the host's own hop, which the board takes as usual (no resync)."""
        ahead = hop + P.RESYNC_HOPS + 1 + self.rng.randrange(1 << 24)
        far = min(ahead, P.HOP_MAX) if hop < P.RESYNC_HOPS + 1 or self.rng.random() < 0.7 else \
            self.rng.randrange(0, hop - P.RESYNC_HOPS)
        return self._audio("far_off_audio", far, seq, far=True)

    def hop_ffffffff(self, hop: int, seq: int) -> Garbage:
        """Hop 0xFFFFFFFF is never a stream position: refused with a NACK, nothing wraps."""
        return self._audio("hop_ffffffff", U32_MAX, seq, far=True)
