"""The qemu_m4 firmware's size against the budgets of DESIGN.md section 4: flash (text + data) <= 64 KB and static RAM
(data + bss, the stack included) <= 24 KB, as arm-none-eabi-size reports them for the ELF that
`pio run -e qemu_m4` builds. (The linker script already refuses RAM over 24 KB; flash is checked
here.) `pytest -s` prints the figures."""
import shutil
import subprocess

import pytest

from host import emulator

FLASH_BUDGET = 64 * 1024
RAM_BUDGET = 24 * 1024


@pytest.mark.skipif(shutil.which("arm-none-eabi-size") is None, reason="needs gcc-arm-none-eabi")
def test_firmware_fits_its_flash_and_ram_budgets():
    elf = emulator.build_firmware()
    out = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(elf)], check=True, capture_output=True,
                         text=True).stdout
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    nm = subprocess.run(["arm-none-eabi-nm", str(elf)], check=True, capture_output=True, text=True).stdout
    symbols = {p[2]: int(p[0], 16) for p in (line.split() for line in nm.splitlines()) if len(p) == 3}
    stack = symbols["__bitear_stack_size"]
    print(f"\nqemu_m4 firmware: flash {text + data} bytes (text {text} + data {data}) of {FLASH_BUDGET}; "
          f"RAM {data + bss} bytes (data {data} + bss {bss}, stack {stack} included) of {RAM_BUDGET}")
    assert text + data <= FLASH_BUDGET
    assert data + bss <= RAM_BUDGET
    assert 0 < stack <= data + bss
