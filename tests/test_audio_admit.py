"""The board's AUDIO admission rule (docs/protocol.md section 4): the C (bitear_proto_audio_admit,
bitear_proto_credit_limit, run by tests/test_audio_admit_driver.c, also under ASan/UBSan) and the
Python statement the simulated boards use (tests/sim_board.admit_hop) give the same answers on
hand-picked edges and on seeded random hop sequences full of gaps, stale, far-off and wrapping hops."""
from __future__ import annotations

import random
import subprocess
import types
from pathlib import Path

import pytest

from tests import sim_board as S
from model.toolchain import SANITIZE
from tests.c_build import build_driver

DRIVER = Path(__file__).with_name("test_audio_admit_driver.c")
COUNTERS = ("frames_dropped", "bad_commands", "overruns", "audio_frames", "resyncs")


@pytest.fixture(scope="module", params=[["-O2"], list(SANITIZE)], ids=["plain", "asan"])
def driver(request, tmp_path_factory) -> Path:
    return build_driver(tmp_path_factory.mktemp("admit") / "driver", DRIVER, ["bitear_protocol.c"], request.param)


def python_run(script: list[tuple]) -> list[str]:
    w = types.SimpleNamespace(expected=0, resync_hop=0)
    counts: dict[str, int] = {}
    out = []
    for op, *args in script:
        if op == "S":
            w.expected, w.resync_hop = args[0], args[1]
            counts = {"frames_dropped": args[2], "audio_frames": args[3]}
        elif op == "A":
            flags = S.admit_hop(w, *args, counts)
            out.append(" ".join(str(v) for v in (flags, w.expected, w.resync_hop, *(counts.get(n, 0) for n in COUNTERS))))
        else:
            expected, queued, capacity = args
            out.append(str(min(S.U32_MAX, expected + max(0, capacity - queued))))
    return out


def c_run(driver: Path, script: list[tuple]) -> list[str]:
    text = "\n".join(" ".join(str(v) for v in line) for line in script) + "\n"
    return subprocess.run([str(driver)], input=text, capture_output=True, text=True, check=True).stdout.splitlines()


def test_edges_agree_and_are_what_the_documentation_says(driver):
    far = S.RESYNC_HOPS
    script = [("S", 1000, 0, 0, 0),
              ("A", 1000 + far, 0, 4),          # the largest gap
              ("S", 1000, 0, 0, 0), ("A", 1000 - far, 0, 4),       # the oldest stale hop
              ("A", 1000 + far + 1, 0, 4), ("A", 1000 + far + 2, 0, 4),  # far ahead twice: resync
              ("A", 0xFFFFFFFF, 0, 4), ("A", 0, 0, 4),              # never a position; 0 alone: refused
              ("S", 0xFFFFFFF0, 0, 0xFFFFFF00, 0xFFFFFFFF), ("A", 0xFFFFFFFE, 0, 4), ("A", 0xFFFFFFFF, 0, 4),
              ("S", 10, 0, 0xFFFFFF00, 0), ("A", 10 + far, 0, 4),  # frames_dropped saturates
              ("L", 0xFFFFFFFE, 0, 4), ("L", 0xFFFFFFFF, 0, 255), ("L", 5, 4, 4), ("L", 5, 9, 4)]
    c = c_run(driver, script)
    assert c == python_run(script)
    assert c[0] == f"1 {1001 + far} 0 {far} 0 0 1 0"
    assert c[1] == "0 1000 0 0 1 0 0 0"
    assert c[2] == f"4 1000 {1002 + far} 0 2 0 0 0" and c[3] == f"3 {1003 + far} 0 0 2 0 1 1"
    assert c[4].startswith("4 ") and c[5].startswith("4 ")
    assert c[6] == f"1 {0xFFFFFFFF} 0 {0xFFFFFF0E} 0 0 {0xFFFFFFFF} 0"
    assert c[7].startswith(f"4 {0xFFFFFFFF} 0 ")
    assert c[8].split()[3] == str(0xFFFFFFFF)
    assert c[9:] == [str(0xFFFFFFFF), str(0xFFFFFFFF), "5", "5"]


def test_random_hop_sequences_agree(driver):
    rng = random.Random(15)
    script: list[tuple] = []
    for case in range(40):
        start = rng.choice([0, 300, 0x7FFFFFF0, 0xFFFFFF00, 0xFFFFFFFE])
        script.append(("S", start, 0, rng.choice([0, 0xFFFFFFF0]), 0))
        hop = start
        for _ in range(200):
            r = rng.random()
            if r < 0.6:
                hop = min(hop + 1, 0xFFFFFFFF)                        # in order
            elif r < 0.7:
                hop = min(hop + rng.randint(2, 300), 0xFFFFFFFF)       # a gap, sometimes far
            elif r < 0.8:
                hop = max(hop - rng.randint(1, 300), 0)                # stale, sometimes far
            elif r < 0.9:
                script.append(("A", rng.getrandbits(32), rng.randint(0, 4), 4))  # a stray frame
                continue
            else:
                hop = rng.choice([0, 0xFFFFFFFF, 0xFFFFFFFE, hop ^ 0x80000000])
            script.append(("A", hop, rng.randint(0, 4), 4))
    c = c_run(driver, script)
    assert len(c) == sum(1 for line in script if line[0] == "A")
    assert c == python_run(script)
    assert any(line.split()[0] == "3" for line in c) and any(line.split()[0] == "4" for line in c)
