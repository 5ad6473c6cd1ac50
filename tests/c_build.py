"""Build a small C test driver against the plugin's sources with the host gcc (warnings are errors)."""
from __future__ import annotations

from pathlib import Path

from model.errors import BitearError
from model.paths import PLUGIN_DIR
from model.toolchain import TEST_CFLAGS, compile_host


def build_driver(out: Path, driver: Path, sources: list[str], flags: list[str]) -> Path:
    """Compile `driver` with the named plugin sources into the executable `out` (model.toolchain.compile_host)."""
    try:
        return compile_host([driver, *(PLUGIN_DIR / s for s in sources)], out, [*TEST_CFLAGS, *flags], [PLUGIN_DIR])
    except BitearError as e:
        raise RuntimeError(f"building {driver.name} failed: {e}") from None
