"""Build a small C test driver against the plugin's sources with the host gcc (warnings are errors)."""
from __future__ import annotations

from pathlib import Path

from codegen.harness import LIB_DIR as C_DIR, compile_host
from model.errors import BitearError

CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion"]
SANITIZE = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def build_driver(out: Path, driver: Path, sources: list[str], flags: list[str]) -> Path:
    """Compile `driver` with the named plugin sources into the executable `out` (codegen.harness.compile_host)."""
    try:
        return compile_host([driver, *(C_DIR / s for s in sources)], out, [*CFLAGS, *flags], [C_DIR])
    except BitearError as e:
        raise RuntimeError(f"building {driver.name} failed: {e}") from None
