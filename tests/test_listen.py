"""host/listen.py end to end against the emulated board (QEMU running the qemu_m4 firmware): a
generated WAV (22.05 kHz stereo, converted on the way) streams through the real serial protocol,
RESULT lines arrive for every inference the firmware runs, `--json` lines parse, nothing is lost,
exit code 0; a board that disappears mid-stream (QEMU killed) ends the program with a message and
exit code 1, no traceback; bad WAV files are a one-line error with exit code 2.

No assertion here depends on what the network recognises (that is measured by host.evaluate and
`make demo`), so any generated model tables pass.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from host import emulator
from model.audio import resample, write_wav

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(240),
              pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")]


@pytest.fixture(scope="module")
def elf():
    return emulator.build_firmware()


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> tuple[Path, float]:
    """~2.4 s: noise, a word (espeak-ng if installed, else a chirp), noise; 22.05 kHz stereo."""
    rng = np.random.default_rng(0)
    try:
        from model.synth import synthesize
        word = synthesize("yes")
    except Exception:  # noqa: BLE001 - no TTS on this machine: any loud sound will do
        t = np.arange(8000) / 16000
        word = np.zeros(16000, np.int16)
        word[4000:12000] = (8000 * np.sin(2 * np.pi * (300 + 400 * t) * t)).astype(np.int16)
    audio = np.concatenate([rng.normal(0, 100, 7000), word, rng.normal(0, 100, 15000)])
    audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    at_22k = resample(audio, 16000, 22050)
    path = tmp_path_factory.mktemp("listen") / "yes_22k_stereo.wav"
    write_wav(path, np.stack([at_22k, at_22k], axis=1), 22050)
    return path, len(audio) / 16000


def listen(*args: str, module: bool = False, **kw) -> subprocess.Popen:
    cmd = [sys.executable, *(["-m", "host.listen"] if module else [str(ROOT / "host" / "listen.py")]), *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_wav_through_the_emulated_board_json_lines(elf, wav):
    path, seconds = wav
    proc = listen("--emulator", "--elf", str(elf), "--wav", str(path), "--json")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    events = [json.loads(line) for line in out.splitlines()]          # every line is one JSON object
    assert events[0]["event"] == "ready" and events[-1]["event"] == "end"
    ready, end = events[0], events[-1]
    assert ready["board"] == "qemu_mps2_an386" and ready["labels"][:2] == ["_silence_", "_unknown_"]
    assert ready["cost_unit"] == "instructions"
    every = ready["infer_every_hops"]
    hops = end["hops_sent"]
    assert hops == int(np.ceil((seconds + 1.0) * 16000 / 320))        # the WAV plus 1 s of silence, whole hops
    results = [e for e in events if e["event"] == "result"]
    assert [r["hop"] for r in results] == list(range(49, hops + 1, every))
    for r in results:
        assert r["label"] in ready["labels"] and 0 <= r["exit"] < ready["exits"] and r["cost"] > 0
        assert sum(r["scores"].values()) == pytest.approx(1.0, abs=0.01)
        assert r["time_s"] == pytest.approx(r["hop"] * 0.02)
    stats = end["stats"]
    assert stats["hops"] == hops and stats["audio_frames"] == hops
    assert stats["frames_dropped"] == stats["overruns"] == stats["crc_errors"] == stats["rx_dropped"] == 0
    assert end["results"] == len(results) and end["host_dropped_hops"] == 0
    assert end["detections"] == sum(e["event"] == "detection" for e in events)


def test_infer_every_2_gives_a_result_every_2_hops(elf, wav):
    """SET_PERIOD through the firmware: the READY shown (read again after the ACK), the end line and
    the RESULT hops all say every 2 hops (the firmware's own period is 4)."""
    path, _ = wav
    proc = listen("--emulator", "--elf", str(elf), "--wav", str(path), "--json", "--tail", "0", "--infer-every", "2")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    ready, end = events[0], events[-1]
    assert ready["event"] == "ready" and ready["infer_every_hops"] == 2 and end["infer_every_hops"] == 2
    assert [e["hop"] for e in events if e["event"] == "result"] == list(range(49, end["hops_sent"] + 1, 2))
    assert end["stats"]["inferences"] == end["results"] > 0


def test_plain_lines_without_a_terminal(elf, wav):
    path, _ = wav
    proc = listen("--emulator", "--elf", str(elf), "--wav", str(path), "--results", "--threshold", "0.5", module=True)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("listening to yes_22k_stereo.wav (22050 Hz, 2 ch -> 16 kHz mono")
    assert any(line.startswith("ready: board qemu_mps2_an386") for line in lines)
    assert sum(line.startswith("result ") for line in lines) >= 3
    assert lines[-1].startswith("end: ") and "overruns 0" in lines[-1]
    assert "\x1b[" not in out                                          # no terminal control codes


def test_board_that_disappears_mid_stream(elf, wav):
    path, _ = wav
    long_wav = path.with_name("long.wav")
    from model.audio import read_wav
    x, rate = read_wav(path)
    write_wav(long_wav, np.concatenate([x] * 6), rate)                # ~15 s, streamed in real time
    proc = listen("--emulator", "--elf", str(elf), "--wav", str(long_wav), "--json", "--realtime")
    pid, results = None, 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and results < 3:
        event = json.loads(proc.stdout.readline())
        pid = event.get("emulator_pid", pid)
        results += event["event"] == "result"
    assert pid is not None and results == 3
    os.kill(pid, signal.SIGKILL)                                       # the board vanishes
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Traceback" not in err and "error:" in err
    assert any(k in err for k in ("went away", "stopped", "disconnected")), err
    assert json.loads(out.splitlines()[-1])["event"] == "error"


@pytest.mark.parametrize("kind, message", [
    ("missing", "not found"),
    ("empty", "empty"),
    ("corrupt", "not a readable WAV"),
    ("1hz", "sample rate 1 Hz"),                 # was a MemoryError traceback (resampled up 16000x)
])
def test_bad_wav_files_are_one_line_errors(tmp_path, kind, message):
    import wave
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        write_wav(path, np.zeros(0, np.int16))
    elif kind == "corrupt":
        path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    elif kind == "1hz":
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(1)
            w.writeframes(bytes(7200))
    proc = listen("--wav", str(path), "--plain")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.startswith("error: file ") and str(path) in err and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_any_pyserial_url_with_port(elf, wav):
    """--port takes a pyserial URL: here the emulated board's socket://, opened by listen itself."""
    path, _ = wav
    with emulator.Emulator(elf) as emu:
        url = emu.port.port                                          # socket://127.0.0.1:N
        emu.port.close()                                             # QEMU accepts the next connection
        proc = listen("--port", url, "--wav", str(path), "--json")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["event"] == "ready" and "emulator_pid" not in events[0]
    assert events[-1]["event"] == "end" and events[-1]["results"] > 0


def test_ctrl_c_ends_cleanly_with_the_summary(elf, wav):
    path, _ = wav
    proc = listen("--emulator", "--elf", str(elf), "--wav", str(path), "--realtime", "--plain", "--results")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not proc.stdout.readline().startswith("result "):
        pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert out.splitlines()[-1].startswith("end: ")


@pytest.mark.parametrize("args, message", [
    (["--window-ms", "70000"], r"--window-ms must be in \[0, 65535\] .*found 70000"),    # was: struct.error traceback
    (["--suppression-ms", "99999"], r"--suppression-ms must be in \[0, 65535\] .*found 99999"),
    (["--min-count", "300"], r"--min-count must be in \[1, 32\] .*found 300"),
    (["--min-count", "0"], r"--min-count must be in \[1, 32\] .*found 0"),               # was: refused by the board, exit 1
    (["--tail", "-5"], r"--tail must be a number of seconds >= 0, found -5"),
    (["--infer-every", "256"], r"--infer-every must be in \[1, 255\] .*found 256"),
    (["--detect-threshold", "nan"], r"--detect-threshold must be in \[0, 1\], found nan"),
])
def test_option_ranges_are_checked_before_any_board_is_opened(tmp_path, args, message):
    """The ranges come from model.facts (what bitear_detector.h takes); a port nobody listens on
    would fail with exit 1, so exit 2 with the option's message shows the check came first."""
    import re
    path = tmp_path / "short.wav"
    write_wav(path, np.zeros(16000, np.int16))
    proc = listen("--wav", str(path), "--plain", "--port", "socket://127.0.0.1:1", *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert re.fullmatch(rf"error: {message}.*\n", err), err


@pytest.mark.parametrize("kind, message", [
    ("empty", r"the firmware ELF is empty \(0 bytes\)"),
    ("text", r"not an ELF file \(starts with b'hell'"),
    ("x86", r"an ELF for x86-64 \(64-bit\), not for 32-bit Arm \(e_machine 62, expected 40\)"),
])
def test_wrong_elf_files_are_one_line_user_errors(tmp_path, kind, message):
    import re
    path = tmp_path / f"{kind}.elf"
    if kind == "text":
        path.write_text("hello, not firmware\n")
    elif kind == "x86":
        path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + (2).to_bytes(2, "little") + (62).to_bytes(2, "little"))
    else:
        path.write_bytes(b"")
    proc = listen("--emulator", "--elf", str(path), "--wav", str(path), "--plain")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert re.fullmatch(rf"error: {re.escape(str(path))}: {message}.*\n", err), err


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_an_arm_elf_that_locks_up_keeps_qemus_reason(tmp_path):
    """A Cortex-M image whose reset vector is 0 (no Thumb bit): QEMU locks up at once. Was a
    SerialException traceback ("socket disconnected"); now one line with QEMU's own words, exit 1."""
    source = tmp_path / "lockup.c"
    source.write_text('__attribute__((section(".vectors"), used)) const unsigned vectors[2] = {0x20001000u, 0u};\n'
                      "void reset(void) { for (;;) { } }\n")
    elf = tmp_path / "lockup.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-O1", "-Wl,-Ttext=0x100",
                    "-Wl,--section-start=.vectors=0x0", "-Wl,-e,reset", "-o", str(elf), str(source)], check=True)
    wav = tmp_path / "short.wav"
    write_wav(wav, np.zeros(16000, np.int16))
    proc = listen("--emulator", "--elf", str(elf), "--wav", str(wav), "--plain")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "the firmware stopped before its READY frame" in err and "qemu: fatal: Lockup" in err, err
