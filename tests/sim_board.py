"""The board's side of protocol v1 shared by the simulated boards of the host tests.

Seq-numbered sending, CREDIT grants and the AUDIO admission rules of docs/protocol.md
(stale hop -> bad command, gap -> frames dropped, full queue -> overrun), so each simulated
board only adds what it does with admitted audio and commands.
"""
from __future__ import annotations

import collections
import dataclasses

from host import protocol as P


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
        self.seq = 0

    def send(self, msg: P.Message) -> None:
        self.out += P.encode(dataclasses.replace(msg, seq=self.seq))
        self.seq = (self.seq + 1) & 0xFFFF

    def credit(self) -> None:
        self.send(P.Credit(self.expected + self.capacity - len(self.queue), self.capacity))

    def admit_audio(self, msg: P.Audio, counts) -> bool:
        """Apply the board's AUDIO rules, counting into `counts`; True when the hop may be queued."""
        if msg.hop < self.expected:
            counts["bad_commands"] += 1
            return False
        counts["frames_dropped"] += msg.hop - self.expected
        self.expected = msg.hop + 1
        if len(self.queue) >= self.capacity:
            counts["overruns"] += 1
            return False
        return True
