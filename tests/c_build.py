"""Build a small C test driver against the plugin's sources with the host gcc (warnings are errors)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

C_DIR = Path(__file__).resolve().parent.parent / "firmware" / "lib" / "bitear"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion"]
SANITIZE = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def build_driver(out: Path, driver: Path, sources: list[str], flags: list[str]) -> Path:
    """Compile `driver` with the named plugin sources into the executable `out`; gcc is a declared dependency."""
    cc = shutil.which("gcc")
    if cc is None:
        raise RuntimeError("gcc not found: run `make setup` (it installs the Debian packages bitear needs)")
    cmd = [cc, *CFLAGS, *flags, "-I", str(C_DIR), str(driver), *(str(C_DIR / s) for s in sources), "-o", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building {driver.name} failed:\n{result.stderr}")
    return out
