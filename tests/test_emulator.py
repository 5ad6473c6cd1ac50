"""The emulated board end to end: host/emulator.py boots the qemu_m4 firmware in QEMU, the
banner and replies come back through pyserial, bytes sent from the host travel the UART RX
interrupt + ring buffer path without loss, and QEMU is always stopped afterwards."""

import os
import re
import subprocess

import pytest

from host import emulator
from host.emulator import Emulator, EmulatorError

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def firmware_elf():
    return emulator.build_firmware()


def assert_stopped(pid):
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_banner_then_replies(firmware_elf):
    with Emulator(firmware_elf) as emu:
        assert emu.banner == "bitear ready protocol=0 board=qemu_mps2_an386"
        emu.port.write(b"hello bitear\n")
        assert emu.port.readline() == b"echo hello bitear\n"
        emu.port.write(b"ping\r\n")
        assert re.fullmatch(rb"pong ticks=\d+ hz=25000000\n", emu.port.readline())
        emu.port.write(b"stack\n")
        used, size = map(int, re.fullmatch(rb"stack used=(\d+) size=(\d+)\n", emu.port.readline()).groups())
        assert size == 8192 and 0 < used < size


def test_burst_of_input_arrives_complete_and_in_order(firmware_elf):
    # 300 distinct lines (~13 kB) written at once: far more than the 512-byte RX ring, so
    # this only passes if interrupt RX keeps up and nothing is dropped or reordered.
    lines = [b"line %03d %s" % (i, bytes([65 + i % 26]) * (i % 37)) for i in range(300)]
    with Emulator(firmware_elf) as emu:
        emu.port.write(b"".join(line + b"\n" for line in lines))
        for line in lines:
            assert emu.port.readline() == b"echo " + line + b"\n"


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
    # A minimal Cortex-M image that never prints: the banner wait must give up, say so, and
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
    with pytest.raises(EmulatorError, match=r"no ready banner .* within 2 s(.|\n)*QEMU stderr"):
        with emu:
            pass
    assert emu.pid is not None
    assert_stopped(emu.pid)
