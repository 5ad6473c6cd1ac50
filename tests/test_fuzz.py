"""The libFuzzer targets of firmware/fuzz/ (protocol decoder + encoder + AUDIO admission, front end)
build with clang -fsanitize=fuzzer,address,undefined and run a few seconds each without a finding,
through the same script as `make fuzz` (scripts/fuzz.sh); and a target does catch a planted bug."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from model.paths import PLUGIN_DIR

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "fuzz.sh"


def _fuzz(out: Path, seconds: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, FUZZ_SECONDS=str(seconds), PYTHON=sys.executable)   # this Python writes the seeds
    return subprocess.run(["bash", str(SCRIPT), str(out)], capture_output=True, text=True, env=env, cwd=ROOT)


def test_fuzz_targets_build_and_run_clean(tmp_path):
    result = _fuzz(tmp_path, 3)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "fuzz: ok"
    for target in ("protocol", "frontend"):
        runs = [int(m.group(1)) for line in lines if (m := re.match(rf"fuzz: {target}: Done (\d+) runs", line))]
        assert runs and runs[0] > 100, result.stdout
    assert len(list((tmp_path / "corpus_protocol").glob("seed-*"))) >= 10   # seeded from host.protocol


def test_the_protocol_target_finds_a_planted_admission_bug(tmp_path):
    """With the gap window widened to 1000 hops (a frames_dropped jump the rule forbids), the target
    must abort within seconds: the harness reaches the admission rule and checks it."""
    src = PLUGIN_DIR
    for name in ("bitear_protocol.c", "bitear_protocol.h", "bitear_status.h"):
        shutil.copy(src / name, tmp_path / name)
    c = tmp_path / "bitear_protocol.c"
    good = "hop > expected && hop - expected <= BITEAR_PROTO_RESYNC_HOPS"
    assert good in c.read_text()
    c.write_text(c.read_text().replace(good, "hop > expected && hop - expected <= 1000u"))
    exe = tmp_path / "fuzz"
    subprocess.run(["clang", "-std=c99", "-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-I", str(tmp_path),
                    str(ROOT / "firmware" / "fuzz" / "fuzz_protocol.c"), str(c), "-o", str(exe)], check=True)
    (tmp_path / "corpus").mkdir()
    result = subprocess.run([str(exe), "-max_total_time=60", "-max_len=8192", "-seed=1",
                             f"-artifact_prefix={tmp_path}/", str(tmp_path / "corpus")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "deadly signal" in result.stderr
    assert list(tmp_path.glob("crash-*"))
