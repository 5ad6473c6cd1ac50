"""The tools `make setup` installs are really there, so tool-dependent tests elsewhere can never skip silently.

Some tests skip when a tool is missing (handy on a half-set-up laptop); this one fails instead, naming
the Debian package to install, so a set-up gap cannot hide behind skips in `make test`.
"""
import shutil

import pytest

TOOLS = {  # command -> Debian package (scripts/setup_apt.sh)
    "gcc": "gcc",
    "clang": "clang",
    "arm-none-eabi-gcc": "gcc-arm-none-eabi",
    "arm-none-eabi-size": "gcc-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "espeak-ng": "espeak-ng",
    "flite": "flite",
}


@pytest.mark.parametrize("command", sorted(TOOLS))
def test_declared_tool_is_installed(command):
    assert shutil.which(command), f"{command} not found: install the Debian package {TOOLS[command]} (make setup does)"


def test_setup_script_installs_every_declared_tool():
    from pathlib import Path
    script = (Path(__file__).resolve().parent.parent / "scripts" / "setup_apt.sh").read_text()
    missing = sorted({pkg for pkg in TOOLS.values() if pkg not in script})
    assert not missing, f"scripts/setup_apt.sh does not install {missing}"
