"""The C toolchain: compilers, the plugin's source sets and the flag sets every Python caller and test
builds C with (host, Cortex-M4F, Cortex-M0+), and the compile steps.

    compile_host(sources, out, [*HOST_CFLAGS, *SHARED_LIB], [PLUGIN_DIR])   # host gcc ($CC or gcc)
    compile_arm(sources, out, [*CORTEX_M4, *ARM_CFLAGS, "-c"], [dir])         # arm-none-eabi-gcc

model/m4run.py links and runs Cortex-M builds in unicorn with these flags; the firmware's own build
(platformio.ini) uses the same -mcpu/-mfpu/-mfloat-abi and -O2.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

from model.errors import BitearError
from model.paths import PLUGIN_DIR

ARM_CC = "arm-none-eabi-gcc"
ARM_HINT = "install the Arm toolchain (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"

# Source sets of the plugin (file names in PLUGIN_DIR).
FRONTEND_SOURCES = ("bitear_frontend.c",)
FRONTEND_HEADERS = ("bitear_frontend.h", "bitear_frontend_tables.h", "bitear_status.h")
RUNTIME_SOURCES = ("bitear_kernels.c", "bitear_model.c", "bitear_stream.c", "bitear_frontend.c", "bitear_stream_model.c")
IMAGE_SOURCES = ("bitear_frontend.c", "bitear_kernels.c", "bitear_model.c")   # front end + window model (+ tables)
PROTOCOL_SOURCES = ("bitear_protocol.c",)
DETECTOR_SOURCES = ("bitear_detector.c",)

# Flag sets.
WARNINGS = ("-Wall", "-Wextra", "-Werror")
HOST_CFLAGS = ("-O2", "-std=c99", *WARNINGS)             # host gcc, optimised like the firmware
SHARED_LIB = ("-shared", "-fPIC")                        # host builds loaded with ctypes
TEST_CFLAGS = ("-std=c99", *WARNINGS, "-Wconversion")    # host test drivers (tests/c_build.py), -O level added per build
SANITIZE = ("-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")
CORTEX_M4 = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")   # qemu_m4, nano33ble, nucleo_l476rg
CORTEX_M0PLUS = ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft")               # the pico's RP2040
ARM_CFLAGS = ("-O2", "-std=c99", "-ffunction-sections", "-fdata-sections")           # the firmware's code generation
ARM_LDFLAGS = ("--specs=nano.specs",)                    # newlib-nano, as the firmware links


def host_cc() -> str:
    """The host C compiler: $CC, else gcc; BitearError when it is not installed."""
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise BitearError(f"C compiler '{cc}' not found: run `make setup` (it installs gcc), or set CC")
    return cc


def need(tool: str) -> str:
    """An Arm toolchain program (arm-none-eabi-gcc, -objdump, -size, ...); BitearError when it is missing."""
    if shutil.which(tool) is None:
        raise BitearError(f"'{tool}' not found: {ARM_HINT}")
    return tool


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BitearError(f"{what} failed:\n$ {' '.join(cmd)}\n{proc.stderr.strip()}")


def compile_host(sources: Sequence[Path], out: Path, flags: Sequence[str], includes: Sequence[Path],
                 what: str = "host build") -> Path:
    """host_cc() [flags] -I.. sources -o out; BitearError "<what> failed" with the compiler's message on failure."""
    _run([host_cc(), *flags, *(f"-I{d}" for d in includes), *map(str, sources), "-o", str(out)], what)
    return out


def compile_arm(sources: Sequence[Path], out: Path, flags: Sequence[str], includes: Sequence[Path],
                ldflags: Sequence[str] = ()) -> Path:
    """arm-none-eabi-gcc [flags] -I.. sources [ldflags] -o out (flags hold the core's set, e.g. CORTEX_M4)."""
    _run([need(ARM_CC), *flags, *(f"-I{d}" for d in includes), *map(str, sources), *ldflags, "-o", str(out)],
         "Arm build")
    return out


def arm_sections(path: Path) -> dict[str, int]:
    """Section name -> size of an object or ELF (arm-none-eabi-size -A)."""
    out = subprocess.run([need("arm-none-eabi-size"), "-A", str(path)], capture_output=True, text=True, check=True).stdout
    sections = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    return sections
