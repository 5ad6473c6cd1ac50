"""host.board.BoardClient against a simulated board (a pyserial-like object speaking protocol v1
in Python, following the board's rules of docs/protocol.md): banner, commands and NACKs, credit
flow control with a board slower than the host, stream reset, and the errors a user sees when the
board is silent, stalls or disappears. The real firmware is exercised through the emulator in the
end-to-end tests.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import serial

from host import protocol as P
from host.board import BoardClient
from model.facts import LABELS
from model.errors import BitearError
from tests.sim_board import BoardWire


class FakeBoard(BoardWire):
    """Enough of a pyserial port and of the firmware for BoardClient.

    capacity: AUDIO queue size; consume: hops the board takes from its queue per read() call
    (0 = stalled); silent: never answers; garbage: bytes sent before the boot banner.
    """

    def __init__(self, capacity=3, consume=1, silent=False, garbage=b""):
        super().__init__(capacity)
        self.timeout = None
        self.consume, self.silent = consume, silent
        self.out += garbage
        self.processed: list[tuple[int, np.ndarray]] = []
        self.gone = False
        self.counts = dict.fromkeys(("audio_frames", "frames_dropped", "overruns", "bad_commands"), 0)
        self.thresholds: list[tuple[int, int]] = []
        self.every, self.period_taken = 2, True         # period_taken False: ACKs SET_PERIOD, keeps the period
        if not silent:
            self.send(P.Ready(16000, 320, self.every, 3, 0, "fake", "0f066307d9bed4e0", LABELS))
            self.credit()

    # -- the board's side --
    def handle(self, msg):
        ack = lambda status=0: self.send(P.Ack(msg.seq, msg.TYPE, status))
        if isinstance(msg, P.Audio):
            if self.admit_audio(msg, self.counts):
                self.queue.append((msg.hop, msg.samples))
        elif isinstance(msg, P.Hello):
            self.send(P.Ready(16000, 320, self.every, 3, 0, "fake", "0f066307d9bed4e0", LABELS))
            self.credit()
            ack()
        elif isinstance(msg, P.SetThreshold):
            ok = (msg.exit_index in (0, 1, P.EXIT_ALL)) and (msg.threshold_q16 == -1 or 0 <= msg.threshold_q16 <= 65536)
            if ok:
                self.thresholds.append((msg.exit_index, msg.threshold_q16))
            ack(0 if ok else -2)
        elif isinstance(msg, P.SetDetector):
            ack(0 if 1 <= msg.min_count <= 32 else -2)
        elif isinstance(msg, P.SetPeriod):
            if msg.infer_every and self.period_taken:
                self.every = msg.infer_every
            ack(0 if msg.infer_every else -2)
        elif isinstance(msg, P.GetStats):
            values = [self.counts.get(name, 0) for name in P.STATS_FIELDS]
            values[P.STATS_FIELDS.index("hops")] = len(self.processed)
            self.send(P.Stats(tuple(values)))
            ack()
        elif isinstance(msg, P.Reset):
            if msg.flags & P.RESET_STREAM:
                self.queue.clear()
                self.expected = 0
                self.credit()
            if msg.flags & P.RESET_STATS:
                self.counts = dict.fromkeys(self.counts, 0)
            ack()
        else:
            ack(-8)

    # -- the port's side --
    def write(self, data: bytes) -> int:
        if self.gone:
            raise serial.SerialException("write failed: device disconnected")
        for msg in self.decoder.feed(data):
            if not self.silent:
                self.handle(msg)
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def read(self, n: int = 1) -> bytes:
        if self.gone:
            raise serial.SerialException("socket disconnected")
        for _ in range(self.consume):                  # the board works through its queue slowly
            if self.queue:
                self.processed.append(self.queue.popleft())
                self.credit()
        if not self.out:
            time.sleep(self.timeout or 0)
            return b""
        data, self.out = bytes(self.out[:n]), self.out[n:]
        return data


def test_banner_and_commands():
    board = FakeBoard()
    with BoardClient(board, timeout=1.0) as client:
        assert client.ready.labels == LABELS and client.ready.board == "fake" and client.ready.classes == 12
        client.set_threshold(19661, exit_index=1)
        client.set_full_depth()
        assert board.thresholds == [(1, 19661), (P.EXIT_ALL, P.THRESHOLD_NEVER)]
        with pytest.raises(BitearError, match="BITEAR_ERR_ARG"):
            client.set_threshold(70000)
        with pytest.raises(BitearError, match="refused SET_DETECTOR"):
            client.set_detector(1000, 22938, 1500, 0)
        client.set_detector(1000, 22938, 1500, 3)
        stats = client.get_stats()
        assert stats.frames_dropped == 0 and stats.as_dict()["audio_frames"] == 0
    assert client.decoder.counters["frames"] > 0 and sum(client.decoder.counters.values()) == client.decoder.counters["frames"]


def test_set_period_reads_the_new_period_back_from_ready():
    board = FakeBoard()
    with BoardClient(board, timeout=1.0) as client:
        assert client.ready.infer_every_hops == 2
        assert client.set_period(5).infer_every_hops == 5 and client.ready.infer_every_hops == 5
        with pytest.raises(BitearError, match="refused SET_PERIOD: BITEAR_ERR_ARG"):
            client.set_period(0)
        assert client.ready.infer_every_hops == 5
        board.period_taken = False
        with pytest.raises(BitearError, match="acknowledged SET_PERIOD 3 but its READY says an inference every 5"):
            client.set_period(3)


def test_garbage_before_the_banner_is_counted_and_skipped():
    board = FakeBoard(garbage=bytes([0x17, 0x99, 0x42, 0x00, 0x55]) + b"\0")
    with BoardClient(board, timeout=1.0) as client:
        assert client.ready.board == "fake"
    assert client.decoder.counters["cobs_errors"] == 2


def test_audio_under_credit_reaches_a_slow_board_complete_and_in_order():
    board = FakeBoard(capacity=3, consume=1)
    rng = np.random.default_rng(0)
    audio = rng.integers(-32768, 32768, 50 * 320 + 100, dtype=np.int16)
    with BoardClient(board, timeout=2.0) as client:
        sent = 0
        for start in range(0, len(audio), 1111):          # chunks that are not whole hops
            sent += client.send_audio(audio[start:start + 1111])
        assert sent == 50 and client.next_hop == 50
        stats = client.wait_processed()
    assert [hop for hop, _ in board.processed] == list(range(50))
    assert np.array_equal(np.concatenate([s for _, s in board.processed]), audio[:50 * 320])
    assert stats.overruns == 0 and stats.frames_dropped == 0 and stats.audio_frames == 50 and stats.hops == 50
    assert client.credit.capacity == 3


def test_free_hops_follow_the_credit_limit():
    client = BoardClient(FakeBoard(capacity=3, consume=0), timeout=1.0)
    assert client.free_hops() == 0                          # no CREDIT yet: nothing may go
    client.hello()
    assert (client.credit.limit, client.free_hops()) == (3, 3)
    assert client.send_audio(np.zeros(2 * 320, np.int16)) == 2
    assert client.free_hops() == 1                          # limit 3, next hop 2 (the board consumed nothing)


def test_stream_reset_starts_again_at_hop_zero():
    board = FakeBoard(capacity=4, consume=2)
    with BoardClient(board, timeout=1.0) as client:
        client.send_audio(np.ones(5 * 320, np.int16))
        client.reset(stats=True, stream=True)
        assert client.next_hop == 0
        client.send_audio(np.full(3 * 320, 7, np.int16))
        stats = client.get_stats()
    assert stats.frames_dropped == 0 and stats.bad_commands == 0 and stats.overruns == 0
    assert client.next_hop == 3


def test_silent_board_gives_a_clear_timeout():
    t0 = time.monotonic()
    with pytest.raises(BitearError, match="no READY banner from the board within 0.3 s"):
        with BoardClient(FakeBoard(silent=True), ready_timeout=0.3, poll_s=0.02):
            pass
    assert time.monotonic() - t0 < 2


def test_wait_processed_on_a_stalled_board_names_the_hops_processed():
    board = FakeBoard(capacity=3, consume=0)
    with BoardClient(board, timeout=0.3) as client:
        client.send_audio(np.zeros(3 * 320, np.int16))
        board.processed += [board.queue.popleft() for _ in range(2)]   # works off two hops, then stalls
        with pytest.raises(BitearError, match=r"processed 2 of the 3 AUDIO hops sent within 0.3 s"):
            client.wait_processed()
        board.consume = 1
        assert client.wait_processed().hops == 3


def test_stalled_board_gives_a_credit_timeout():
    board = FakeBoard(capacity=2, consume=0)
    with BoardClient(board, timeout=1.0) as client:
        with pytest.raises(BitearError, match="granted no credit for AUDIO hop 2 within 0.3 s"):
            client.send_audio(np.zeros(4 * 320, np.int16), timeout=0.3)
    assert board.counts["overruns"] == 0                   # the client waited instead of overrunning


def test_board_that_disappears_raises_bitear_error():
    board = FakeBoard()
    with BoardClient(board, timeout=1.0) as client:
        board.gone = True
        with pytest.raises(BitearError, match="went away"):
            client.read(0.1)
        with pytest.raises(BitearError, match="still connected"):
            client.set_full_depth()


SILENT_HOP = bytes(2 * P.AUDIO_SAMPLES)


def test_audio_notices_are_counted_not_left_in_the_inbox():
    board = FakeBoard(capacity=4, consume=1)
    with BoardClient(board, timeout=1.0) as client:
        client.send_audio(np.zeros(2 * 320, np.int16))              # hops 0, 1
        client.send(P.Audio, 100_000, SILENT_HOP)     # far off alone: NACK (refused)
        client.send(P.Audio, 0xFFFFFFFF, SILENT_HOP)  # never a position: NACK
        client.send(P.Audio, 500_000, SILENT_HOP)     # far off ...
        client.send(P.Audio, 500_001, SILENT_HOP)     # ... and continued: resync, ACK 0
        stats = client.get_stats()                                  # the ACK it waits for comes after the notices
        assert (client.resyncs, client.refused_audio, client.last_audio_refusal) == (1, 3, "BITEAR_ERR_ARG")
        assert stats.resyncs == 1 and stats.bad_commands == 3
        assert client.read(0.05) is None                            # no AUDIO ACK left for the caller
        assert client.credit.limit >= 500_002                       # the CREDIT of the resync was taken


def test_send_audio_refuses_a_hop_past_the_last_position():
    board = FakeBoard(capacity=4, consume=1)
    with BoardClient(board, timeout=1.0) as client:
        client.next_hop = P.HOP_MAX                                 # the last stream position: still allowed
        client.credit = P.Credit(0xFFFFFFFF, 4)
        assert client.send_audio(np.zeros(320, np.int16)) == 1
        frames = board.decoder.counters["frames"]
        with pytest.raises(BitearError, match=r"hop 4294967295 .* RESET"):
            client.send_audio(np.zeros(320, np.int16))
        assert board.decoder.counters["frames"] == frames           # nothing was sent
        client.reset()
        assert client.send_audio(np.zeros(320, np.int16)) == 1
