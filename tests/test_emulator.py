"""The emulated board end to end: host/emulator.py boots the qemu_m4 firmware in QEMU, waits for
its binary READY frame, hands the port to a BoardClient, bytes sent from the host travel the UART
RX interrupt + ring buffer path without loss and in order, and QEMU is always stopped afterwards.
Streaming audio through the firmware: tests/test_firmware_stream.py."""

import dataclasses
import os
import subprocess

import pytest

from host import emulator
from host.emulator import Emulator, EmulatorError
from host.protocol import Ack, MsgType, Stats, encode, GetStats
from model.facts import LABELS

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def firmware_elf():
    return emulator.build_firmware()


def assert_stopped(pid):
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def model_sha256():
    from codegen import manifest
    return manifest.read(emulator.ROOT / "firmware/lib/bitear")["checkpoint_sha256"]


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
        assert stats.frames_received == 2  # HELLO, GET_STATS
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
