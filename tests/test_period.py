"""The inference period set at run time (SET_PERIOD): the detector's minimum count that follows it,
in C (app.h, app_detector_min_count, compiled here with the host gcc) and in Python
(host.detector.min_count_for_period), against the rule computed here on its own, and what the
detector's capacity holds at the smallest periods. The board's side (SET_PERIOD applied, kept over
a RESET, reported in READY, 0 refused) is the Unity test firmware/test/test_stream; listen.py's
--infer-every is tests/test_listen_session.py."""
from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from host.detector import CAPACITY, min_count_for_period
from model.facts import DETECTOR_DEFAULTS
from tests.c_build import build_driver

ROOT = Path(__file__).resolve().parent.parent

PRINT_MIN_COUNTS = r"""
#include <stdio.h>
#include "app.h"

int main(void)
{
    for (unsigned n = 0; n <= 255u; n++) {
        printf("%u %u\n", n, (unsigned)app_detector_min_count((uint8_t)n));
    }
    return 0;
}
"""


def expected_min_count(period_hops: int) -> int:
    """The rule as the task states it: the default count (3) over the default period (4 hops of 20 ms)
    is a span of 240 ms; the count at N hops covers that span, rounded up, within 1 .. 32."""
    return min(32, max(1, math.ceil(3 * 4 * 20 / (period_hops * 20))))


@pytest.fixture(scope="module")
def c_min_counts(tmp_path_factory) -> dict[int, int]:
    tmp = tmp_path_factory.mktemp("period")
    (tmp / "print_min_counts.c").write_text(PRINT_MIN_COUNTS)
    exe = build_driver(tmp / "print_min_counts", tmp / "print_min_counts.c", [],
                       ["-I", str(ROOT / "firmware" / "src"), "-I", str(ROOT / "firmware" / "lib" / "board")])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return {int(n): int(count) for n, count in (line.split() for line in out.splitlines())}


def test_min_count_keeps_the_span_of_the_default():
    table = {1: 12, 2: 6, 3: 4, 4: 3, 5: 3, 6: 2, 11: 2, 12: 1, 13: 1, 255: 1}
    assert {n: min_count_for_period(n) for n in table} == table
    assert all(min_count_for_period(n) == expected_min_count(n) for n in range(1, 256))
    assert min_count_for_period(4) == DETECTOR_DEFAULTS["min_count"]     # the default is the 4-hop count
    for bad in (0, 256, -1):
        with pytest.raises(ValueError, match="outside 1 .. 255"):
            min_count_for_period(bad)


def test_c_and_python_give_the_same_min_count_at_every_period(c_min_counts):
    assert {n: c_min_counts[n] for n in range(1, 256)} == {n: min_count_for_period(n) for n in range(1, 256)}
    assert c_min_counts[0] == c_min_counts[1] == 12                     # 0 (refused by SET_PERIOD) taken as 1


def test_the_detector_holds_a_default_window_from_period_2_on_not_at_1():
    """docs/protocol.md (SET_PERIOD) and docs/training.md say so: a window of W ms at P ms per result holds
    floor(W / P) + 1 results; the ring keeps CAPACITY (32)."""
    window = DETECTOR_DEFAULTS["window_ms"]
    assert window // (2 * 20) + 1 <= CAPACITY                            # 19 results at 40 ms
    assert window // (1 * 20) + 1 > CAPACITY                             # 38 at 20 ms: only the last 32 (640 ms)
