"""The board's side of protocol v1 shared by the simulated boards of the host tests.

Seq-numbered sending, CREDIT grants and the AUDIO admission rules of docs/protocol.md section 4
(stale hop -> bad command, gap -> frames dropped, full queue -> overrun, a far-off hop refused
alone and followed two in a row), so each simulated board only adds what it does with admitted
audio and commands. `admit_hop` is the Python statement of bitear_proto_audio_admit;
tests/test_audio_admit.py holds the two to the same answers.
"""
from __future__ import annotations

import collections
import dataclasses

from host import protocol as P
from model.facts import HOP_MAX, RESYNC_HOPS   # BITEAR_PROTO_HOP_MAX, BITEAR_PROTO_RESYNC_HOPS

ADMIT_QUEUE, ADMIT_RESYNC, ADMIT_REFUSED = 1, 2, 4     # BITEAR_PROTO_ADMIT_*
U32_MAX = 0xFFFFFFFF


def _count(counts, name: str, n: int = 1) -> None:
    counts[name] = min(U32_MAX, counts.get(name, 0) + n)      # saturating, as in C


def admit_hop(window, hop: int, queued: int, capacity: int, counts) -> int:
    """The board's rule for one AUDIO hop; `window` has .expected and .resync_hop (0: none),
    `counts` the STATS counters (audio_frames included). Returns ADMIT_* flags."""
    confirm, window.resync_hop = window.resync_hop, 0
    expected = window.expected
    flags = 0
    if hop > HOP_MAX:
        _count(counts, "bad_commands")
        return ADMIT_REFUSED
    if hop == expected:
        pass
    elif expected < hop <= expected + RESYNC_HOPS:
        _count(counts, "frames_dropped", hop - expected)
    elif confirm and hop == confirm:
        _count(counts, "resyncs")
        flags = ADMIT_RESYNC
    elif expected - RESYNC_HOPS <= hop < expected:
        _count(counts, "bad_commands")
        return 0
    else:
        _count(counts, "bad_commands")
        window.resync_hop = hop + 1
        return ADMIT_REFUSED
    window.expected = hop + 1
    if queued >= capacity:
        _count(counts, "overruns")
        return flags
    _count(counts, "audio_frames")
    return flags | ADMIT_QUEUE


class BoardWire:
    """Owns `out` (bytes the board has sent), `queue` of admitted hops, `expected` hop, `seq`."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.decoder = P.FrameDecoder()
        self.out = bytearray()
        self.reset_wire()

    def reset_wire(self) -> None:
        self.queue: collections.deque = collections.deque()
        self.expected = 0
        self.resync_hop = 0
        self.seq = 0

    def send(self, msg: P.Message) -> None:
        self.out += P.encode(dataclasses.replace(msg, seq=self.seq))
        self.seq = (self.seq + 1) & 0xFFFF

    def credit(self) -> None:
        self.send(P.Credit(min(U32_MAX, self.expected + self.capacity - len(self.queue)), self.capacity))

    def admit_audio(self, msg: P.Audio, counts) -> bool:
        """Apply the board's AUDIO rules (counting into `counts`, audio_frames included) and send
        its notices (resync: CREDIT then ACK 0; refused: NACK); True when the hop is queued."""
        flags = admit_hop(self, msg.hop, len(self.queue), self.capacity, counts)
        if flags & ADMIT_RESYNC:
            self.credit()
            self.send(P.Ack(msg.seq, P.MsgType.AUDIO, 0))
        elif flags & ADMIT_REFUSED:
            self.send(P.Ack(msg.seq, P.MsgType.AUDIO, -2))
        return bool(flags & ADMIT_QUEUE)
