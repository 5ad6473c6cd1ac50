"""The emulated board end to end: host/emulator.py boots the qemu_m4 firmware in QEMU, waits for
its binary READY frame, hands the port to a BoardClient, bytes sent from the host travel the UART
RX interrupt + ring buffer path without loss and in order, and QEMU is always stopped afterwards.
Streaming audio through the firmware: tests/test_firmware_stream.py."""

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host import emulator
from host.emulator import Emulator, EmulatorError
from host.protocol import Ack, MsgType, Stats, encode, GetStats
from model.facts import LABELS
from model.paths import PLUGIN_DIR

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def firmware_elf():
    return emulator.build_firmware()


def assert_stopped(pid):
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def model_sha256():
    from codegen import manifest
    return manifest.read(PLUGIN_DIR)["checkpoint_sha256"]


def test_ready_frame_then_hello_and_stats(firmware_elf):
    with Emulator(firmware_elf) as emu:
        ready = emu.ready
        assert (ready.board, ready.sample_rate_hz, ready.hop_samples) == ("qemu_mps2_an386", 16000, 320)
        assert ready.model == model_sha256()[:16]
        assert ready.labels == LABELS and ready.exits >= 1 and ready.infer_every_hops >= 1
        assert ready.cost_unit == 0  # instructions: SysTick x 40 under -icount shift=0
        assert emu.banner.startswith("bitear ready protocol=1 board=qemu_mps2_an386 model=" + ready.model)

        board = emu.client()
        assert board.ready == dataclasses.replace(ready, seq=board.ready.seq)  # HELLO: the same READY
        assert board.credit.capacity >= 1 and board.credit.limit == board.credit.capacity
        stats = board.get_stats()
        assert stats.stack_size == 4096 and 0 < stats.stack_used < stats.stack_size
        assert stats.frames_received == 2 + emu.boot_hellos  # HELLO, GET_STATS (+ HELLOs asking for a late READY)
        assert stats.crc_errors == stats.framing_errors == stats.rx_dropped == 0


def test_burst_of_commands_arrives_complete_and_in_order(firmware_elf):
    # 100 GET_STATS frames (700 bytes) written at once: each is answered, in order, by STATS and an
    # ACK naming its seq, so no byte was lost or reordered on the interrupt RX path.
    with Emulator(firmware_elf) as emu:
        board = emu.client()
        first = 1000
        emu.port.write(b"".join(encode(GetStats(seq=first + i)) for i in range(100)))
        acks = [board.wait_for(lambda m: isinstance(m, Ack), 20, "ACK") for _ in range(100)]
        assert [a.ack_seq for a in acks] == list(range(first, first + 100))
        assert all(a.ok and a.ack_type == MsgType.GET_STATS for a in acks)
        assert isinstance(board.stats, Stats) and board.stats.frames_received == 1 + 100
        assert board.decoder.counters["frames"] == sum(board.decoder.counters.values())  # nothing damaged


def test_qemu_is_stopped_after_the_block_and_after_an_error(firmware_elf):
    with Emulator(firmware_elf) as emu:
        pid = emu.pid
        assert emu.process.poll() is None
    assert_stopped(pid)

    with pytest.raises(ZeroDivisionError):
        with Emulator(firmware_elf) as emu:
            pid = emu.pid
            1 / 0
    assert_stopped(pid)


def test_missing_elf_is_a_clear_error(tmp_path):
    with pytest.raises(EmulatorError, match="firmware ELF not found: .*nothing.elf"):
        with Emulator(tmp_path / "nothing.elf"):
            pass


def test_missing_qemu_is_a_clear_error(firmware_elf, monkeypatch):
    monkeypatch.setattr(emulator.shutil, "which", lambda name: None)
    with pytest.raises(EmulatorError, match="qemu-system-arm not found"):
        with Emulator(firmware_elf):
            pass


def test_silent_firmware_times_out_with_qemu_stderr_and_is_stopped(tmp_path):
    # A minimal Cortex-M image that never prints: the READY wait must give up, say so, and
    # still stop QEMU.
    source = tmp_path / "silent.c"
    source.write_text(
        "void reset(void) { for (;;) { } }\n"
        "__attribute__((section(\".vectors\"), used)) void (*const vectors[2])(void) =\n"
        "    {(void (*)(void))0x20001000u, reset};\n"
    )
    elf = tmp_path / "silent.elf"
    subprocess.run(
        ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-O1", "-Wl,-Ttext=0x100",
         "-Wl,--section-start=.vectors=0x0", "-Wl,-e,reset", "-o", str(elf), str(source)],
        check=True,
    )
    emu = Emulator(elf, boot_timeout=2)
    with pytest.raises(EmulatorError, match=r"no READY frame .* within 2 s(.|\n)*QEMU stderr"):
        with emu:
            pass
    assert emu.pid is not None
    assert_stopped(emu.pid)


def test_two_runs_at_once_in_one_checkout_both_build_and_boot(tmp_path, monkeypatch):
    """Two `python -m host.emulator` (build + boot, as two `make demo`s do) on a cold build
    directory, started while this test holds the build lock (so they surely overlap): both say they
    wait, then build one after the other and boot. Before the lock, two cold builds at once failed
    ("building the firmware failed": ar/ranlib on files the other one was writing)."""
    monkeypatch.setenv("PLATFORMIO_BUILD_DIR", str(tmp_path / "build"))
    errs = [tmp_path / f"err{i}.txt" for i in range(2)]
    with emulator.build_lock(out=sys.stdout):
        procs = [subprocess.Popen([sys.executable, "-m", "host.emulator"], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=err.open("w"), text=True) for err in errs]
        deadline = time.monotonic() + 60                # until both wait for the lock this test holds
        while not all("waiting for another build" in err.read_text() for err in errs):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [e.read_text() for e in errs]
            time.sleep(0.1)
    outs = [(p.communicate(timeout=240)[0], err.read_text()) for p, err in zip(procs, errs)]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all("bitear ready protocol=" in out for out, _ in outs)


def test_qemu_boots_a_per_run_copy_of_an_elf_from_the_build_directory(firmware_elf):
    """A `pio test` or build that rewrites .pio/build/qemu_m4/firmware.elf while QEMU loads it cannot
    touch what this run boots: QEMU's -kernel is a copy in the run's own folder."""
    built = emulator.build_dir() / "qemu_m4" / "firmware.elf"
    with Emulator(built) as emu:
        args = Path(f"/proc/{emu.pid}/cmdline").read_bytes().split(b"\0")
        kernel = Path(args[args.index(b"-kernel") + 1].decode())
        assert emu.elf_path == built and kernel != built and not kernel.is_relative_to(emulator.build_dir())
        assert kernel.read_bytes() == built.read_bytes()
