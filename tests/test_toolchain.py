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
    "festival": "festival",
}


@pytest.mark.parametrize("command", sorted(TOOLS))
def test_declared_tool_is_installed(command):
    assert shutil.which(command), f"{command} not found: install the Debian package {TOOLS[command]} (make setup does)"


def test_festival_has_every_voice():
    from model.synth import FESTIVAL_VOICES, available_voices
    missing = [f"{voice} ({pkg})" for voice, pkg in FESTIVAL_VOICES.items() if voice not in available_voices("festival")]
    assert not missing, f"festival lacks the voices {missing}: install those Debian packages (make setup does)"


def test_setup_script_installs_every_declared_tool():
    from pathlib import Path
    from model.synth import FESTIVAL_VOICES
    script = (Path(__file__).resolve().parent.parent / "scripts" / "setup_apt.sh").read_text()
    missing = sorted({pkg for pkg in [*TOOLS.values(), *FESTIVAL_VOICES.values()] if pkg not in script.split()})
    assert not missing, f"scripts/setup_apt.sh does not install {missing}"
