"""python -m host.soak on the emulated board: a short run (garbage after every chunk, the stream
RESET half-way) loses no hop, its RESULTs equal the clean reference board's and its last stdout
line is the JSON summary; a planted difference in the reference's audio is reported as a
mismatch with exit code 1; --minutes 0 is a user error (exit 2). Nothing depends on what the
network recognises (the reference is the same firmware on the same audio)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from host import soak
from model.facts import HOP, SAMPLE_RATE

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
              pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("flite") is None,
                                 reason="espeak-ng / flite not installed")]


@pytest.fixture(scope="module")
def elf():
    from host.emulator import build_firmware
    return build_firmware()


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_short_soak_passes_and_reports(elf, monkeypatch, capsys):
    monkeypatch.setattr(soak, "GARBAGE_SHARE", 1.0)       # a burst after every chunk
    rc = soak.main(["--minutes", "0.15", "--seed", "2", "--json", "--elf", str(elf)])
    out = last_json(capsys)
    assert rc == 0, out
    for key in ("minutes", "hops_sent", "hops_lost", "results_identical", "rss_mb_per_minute", "stack_used_max"):
        assert key in out
    assert out["hops_sent"] > 0 and out["hops_sent"] % int(soak.CHUNK_S * SAMPLE_RATE // HOP) == 0 and out["hops_lost"] == 0
    assert out["hops_processed"] == out["reference_hops_processed"] == out["hops_sent"]
    assert out["results_identical"] and out["results_compared"] > 0 and out["mismatches"] == 0
    assert out["bursts"] > 0 and out["garbage_items"] > 0
    assert 0 < out["stream_reset_at_hop"] < out["hops_sent"]
    assert len(out["rss_mb_per_minute"]) >= 2 and all(v > 0 for v in out["rss_mb_per_minute"])
    assert 0 < out["stack_used_max"] < out["stack_size"]


def test_planted_mismatch_is_detected(elf, monkeypatch, capsys):
    calls = []

    def louder_after_first(chunk: np.ndarray) -> np.ndarray:      # the reference hears other audio from chunk 2
        calls.append(1)
        return chunk if len(calls) == 1 else (chunk // 2 + 3000).astype(np.int16)

    monkeypatch.setattr(soak, "reference_chunk", louder_after_first)
    rc = soak.main(["--minutes", "0.1", "--seed", "2", "--json", "--elf", str(elf)])
    out = last_json(capsys)
    assert rc == 1
    assert out["mismatches"] > 0 and not out["results_identical"] and out["first_mismatch"].startswith("hop ")
    assert out["hops_lost"] == 0


def test_minutes_zero_is_a_user_error(capsys):
    from model.errors import run_cli
    assert run_cli(lambda: soak.main(["--minutes", "0"])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --minutes must be a number of minutes > 0, found 0.0"]
