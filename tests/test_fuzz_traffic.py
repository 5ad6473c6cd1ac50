"""host/fuzz_traffic.py, without a board: every item ends with a delimiter (so the host's next
frame decodes whole), and the frames that pass their CRC are exactly those the item says the
application must refuse — checked with the board's rules stated in Python (tests/sim_board.py)
and against the detector limits of model.facts."""
from __future__ import annotations

import random
import types

import pytest

from host import protocol as P
from host.fuzz_traffic import Traffic
from model.facts import DETECTOR_LIMITS, PERIOD_LIMITS
from tests.sim_board import ADMIT_QUEUE, ADMIT_REFUSED, admit_hop


@pytest.mark.parametrize("expected_hop", [0, 7, 300, 100_000])
def test_items_end_in_a_delimiter_and_what_passes_the_crc_is_refused(expected_hop):
    traffic = Traffic(random.Random(expected_hop))
    kinds, refused_types = set(), set()
    for _ in range(3000):
        item = traffic.item(expected_hop, seq=0x9000)
        kinds.add(item.kind)
        assert item.data.endswith(b"\0")
        decoder = P.FrameDecoder()
        messages = decoder.feed(item.data)
        host_messages = [m for m in messages if m.TYPE < 0x80]
        assert len(host_messages) == item.app_bad, item            # only refused commands get through
        refused_types.update(m.TYPE for m in host_messages if not isinstance(m, P.Audio))
        for msg in host_messages:
            if isinstance(msg, P.Audio):
                window = types.SimpleNamespace(expected=expected_hop, resync_hop=0)
                counts = {}
                flags = admit_hop(window, msg.hop, 0, 2, counts)
                assert not flags & ADMIT_QUEUE and counts == {"bad_commands": 1}
                assert bool(flags & ADMIT_REFUSED) == bool(item.far_off)
                assert window.expected == expected_hop             # the stream position never moves
            elif isinstance(msg, P.SetThreshold):
                assert msg.threshold_q16 > 65536
            elif isinstance(msg, P.SetDetector):
                assert msg.min_count < DETECTOR_LIMITS["min_count"][0]
            elif isinstance(msg, P.SetPeriod):
                assert msg.infer_every < PERIOD_LIMITS[0]
            else:
                assert isinstance(msg, P.Reset) and msg.flags & ~(P.RESET_STATS | P.RESET_STREAM)
    assert kinds == set(Traffic.KINDS) - ({"stale_audio"} if expected_hop == 0 else set())
    assert refused_types == {P.MsgType.SET_THRESHOLD, P.MsgType.SET_DETECTOR, P.MsgType.RESET, P.MsgType.SET_PERIOD}


@pytest.mark.parametrize("seed, accidental", [(13, "GetStats"), (11, "SetDetector")])
def test_cut_frames_never_pass_their_crc_by_chance(seed, accidental):
    """A frame cut inside its CRC passes the check far more often than 1 in 65,536: before the
    redraw, seed 13's 6,357th cut frame was a working GET_STATS and seed 11's 6,440th a SET_DETECTOR
    with random values (a 1,000,000-frame host.fuzz run counted one bad command more than predicted)."""
    traffic = Traffic(random.Random(seed))
    for _ in range(6500):
        item = traffic.truncated(100, 0x9000)
        assert P.FrameDecoder().feed(item.data) == [], (accidental, item)
