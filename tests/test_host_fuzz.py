"""python -m host.fuzz against the emulated board: a short seeded run (every kind of hostile
traffic, stream RESETs, AUDIO without credit, a resync) ends with 0 failures and one JSON line;
a planted bug — garbage that slips a valid AUDIO hop into the stream — is caught both by the
STATS prediction and by the comparison with the clean reference run. Nothing here depends on what
the network recognises (the reference is the same firmware on the same audio)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from host import fuzz, fuzz_traffic

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")]


@pytest.fixture(scope="module")
def elf():
    from host.emulator import build_firmware
    return build_firmware()


def test_short_fuzz_run_has_no_failures(elf):
    proc = subprocess.run([sys.executable, "-m", "host.fuzz", "--frames", "1500", "--seed", "3", "--json",
                           "--elf", str(elf)], cwd=ROOT, capture_output=True, text=True, timeout=240)
    out = json.loads(proc.stdout.splitlines()[-1])
    assert proc.returncode == 0 and out["failures"] == 0, proc.stderr[-2000:]
    assert out["frames_sent"] >= 1500 and out["passes"] >= 1 and out["checks"] > out["passes"]
    assert set(out["garbage_by_kind"]) == set(fuzz_traffic.Traffic.KINDS)       # every kind was sent
    assert out["bursts_without_credit"] == out["resyncs"] == out["passes"]
    assert 0 < out["stack_used_max"] < out["stack_size"]


def test_planted_bugs_are_caught_by_the_reference_and_by_the_prediction(elf, monkeypatch, capsys):
    """Two planted bugs in the traffic: 'stale' AUDIO that is in fact the board's next hop (random
    samples: the board takes it and drops the host's own hop as stale, so every counter still adds
    up, but the stream is not the reference's), and a far-off hop the traffic forgets it sent
    (the board's NACK and bad_commands are then one more than predicted)."""
    def slipped(self, hop, seq):
        return fuzz_traffic.Traffic._audio(self, "stale_audio", hop, seq, far=False)

    def forgotten(self, hop, seq):
        item = fuzz_traffic.Traffic._audio(self, "far_off_audio", hop + fuzz.P.RESYNC_HOPS + 1, seq, far=True)
        item.far_off = item.app_bad = 0
        return item
    monkeypatch.setattr(fuzz_traffic.Traffic, "stale_audio", slipped)
    monkeypatch.setattr(fuzz_traffic.Traffic, "far_off_audio", forgotten)
    monkeypatch.setattr(fuzz_traffic.Traffic, "KINDS", {**fuzz_traffic.Traffic.KINDS, "stale_audio": 10,
                                                        "far_off_audio": 10})
    assert fuzz.main(["--frames", "300", "--seed", "4", "--json", "--elf", str(elf)]) == 1
    captured = capsys.readouterr()
    out = json.loads(captured.out.splitlines()[-1])
    messages = captured.err                          # every failure is logged (the JSON keeps the first 10)
    assert out["failures"] > 0 and "differ from the reference" in messages
    assert "differ from the prediction" in messages and "'bad_commands'" in messages and "NACKs of AUDIO" in messages


def test_bad_options_are_one_line_errors(tmp_path):
    empty = tmp_path / "empty.elf"
    empty.write_bytes(b"")
    for args, message in ((["--frames", "0"], "--frames must be at least 1, found 0"),
                          (["--elf", str(empty)], "the firmware ELF is empty")):
        proc = subprocess.run([sys.executable, "-m", "host.fuzz", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
