"""A host that stops reading, on the emulated board (docs/protocol.md §4, "A host that stops
reading"): the host pauses reading for seconds in the middle of a stream (its last credit's hops
already sent), then reads on; no audio hop is lost (audio_frames = hops = hops sent, no gap,
overrun or lost byte) and every inference's RESULT arrives. Before the rule the board blocked on
the line; the part of it that needs a line that really stops taking bytes (results dropped and
counted, CREDIT deferred) is the Unity test test_stream
(test_a_host_that_stops_reading_costs_results_not_audio)."""
from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from host import protocol as P
from host.emulator import Emulator, build_firmware
from model.facts import HOP

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")]

HOPS = 150
PAUSE_S = 3.0


def test_pausing_reading_loses_no_hop_and_no_result():
    rng = np.random.default_rng(5)
    audio = np.clip(rng.normal(0, 2000, HOPS * HOP), -32768, 32767).astype(np.int16)
    results = []
    with Emulator(build_firmware()) as emu:
        board = emu.client(timeout=30.0)
        board.reset()
        for start in range(0, HOPS, 50):
            board.send_audio(audio[start * HOP:(start + 50) * HOP])
            results += [m for m in board.messages(0) if isinstance(m, P.Result)]
            time.sleep(PAUSE_S)                       # the host stops reading (and sending) for a while
        deadline = time.monotonic() + 60
        while board.get_stats().hops < HOPS and time.monotonic() < deadline:
            results += [m for m in board.messages(0.1) if isinstance(m, P.Result)]
        results += [m for m in board.messages(0.2) if isinstance(m, P.Result)]
        stats = board.get_stats()
    assert (stats.audio_frames, stats.hops) == (HOPS, HOPS)
    assert stats.frames_dropped == stats.overruns == stats.rx_dropped == stats.bad_commands == 0
    assert stats.results_dropped == 0 and len(results) == stats.inferences > 0
    assert [r.hop for r in results] == sorted({r.hop for r in results})      # in order, none twice
