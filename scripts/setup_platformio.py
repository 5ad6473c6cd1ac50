"""Prepare the project's PlatformIO core dir for offline use (DESIGN.md section 6).

A fresh PlatformIO core downloads its build engine, the package "tool-scons", from the
PlatformIO registry on first use. That registry may not be reachable, so this script installs
the same SCons version from PyPI into <core>/packages/tool-scons and writes the two files that
make PlatformIO 6.2 recognise it as the registry package:

  package.json  {"name": "tool-scons", "version": "4.41101.0", ...}
  .piopm        {"type": "tool", "name": "tool-scons", "version": "4.41101.0",
                 "spec": {"owner": "platformio", "name": "tool-scons", ...}}

(PlatformIO looks the package up by owner "platformio" + name + a version matching
platformio.dependencies; without the owner in .piopm it does not match and tries to download.)
The version comes from the installed PlatformIO: "~4.41101.0" means SCons 4.11.1.
It also sets the core up to stay quiet offline (see configure_core).

Usage: .venv/bin/python scripts/setup_platformio.py [CORE_DIR]   (default: $PLATFORMIO_CORE_DIR
or .pio-core next to this script's parent). Idempotent: does nothing when already done.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scons_versions():
    """(package version "4.41101.0", PyPI SCons version "4.11.1") wanted by this PlatformIO."""
    from platformio.dependencies import get_core_dependencies

    package_version = get_core_dependencies()["tool-scons"].lstrip("~^=")
    major, packed, _ = (int(x) for x in package_version.split("."))
    # packed = major * 10000 + minor * 100 + patch, e.g. 41101 -> 4.11.1
    return package_version, "%d.%d.%d" % (major, packed // 100 % 100, packed % 100)


def tool_scons_ready(pkg_dir, package_version):
    try:
        with open(os.path.join(pkg_dir, ".piopm"), encoding="utf8") as fp:
            meta = json.load(fp)
    except (OSError, ValueError):
        return False
    return (
        meta.get("version") == package_version
        and meta.get("spec", {}).get("owner") == "platformio"
        and os.path.isfile(os.path.join(pkg_dir, "scons.py"))
        and os.path.isdir(os.path.join(pkg_dir, "SCons"))
    )


def install_tool_scons(core_dir):
    package_version, scons_version = scons_versions()
    pkg_dir = os.path.join(core_dir, "packages", "tool-scons")
    if tool_scons_ready(pkg_dir, package_version):
        print("setup_platformio: tool-scons %s (SCons %s) already in %s" % (package_version, scons_version, pkg_dir))
        return
    print("setup_platformio: installing SCons %s from PyPI as tool-scons %s" % (scons_version, package_version))
    os.makedirs(os.path.dirname(pkg_dir), exist_ok=True)
    staging = tempfile.mkdtemp(prefix="tool-scons-", dir=os.path.dirname(pkg_dir))
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--target", staging, "scons==%s" % scons_version],
            check=True,
        )
        with open(os.path.join(staging, "scons.py"), "w", encoding="utf8") as fp:
            fp.write(
                "# Launcher PlatformIO runs as `python scons.py`: SCons from PyPI, installed\n"
                "# next to this file by bitear's scripts/setup_platformio.py.\n"
                "from SCons.Script import main\n\nmain()\n"
            )
        with open(os.path.join(staging, "package.json"), "w", encoding="utf8") as fp:
            json.dump(
                {
                    "name": "tool-scons",
                    "version": package_version,
                    "description": "SCons %s from PyPI, installed for offline use" % scons_version,
                    "keywords": ["build tools"],
                    "homepage": "https://scons.org",
                    "license": "MIT",
                },
                fp,
                indent=2,
            )
        with open(os.path.join(staging, ".piopm"), "w", encoding="utf8") as fp:
            json.dump(
                {
                    "type": "tool",
                    "name": "tool-scons",
                    "version": package_version,
                    "spec": {"owner": "platformio", "id": None, "name": "tool-scons",
                             "requirements": None, "uri": None},
                },
                fp,
            )
        if os.path.isdir(pkg_dir):
            shutil.rmtree(pkg_dir)
        os.rename(staging, pkg_dir)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)


def configure_core():
    """Settings of this core, so a plain `.venv/bin/pio` behaves like `make` runs it:
    this PlatformIO version recorded as the core's last one (no welcome banner, no upgrade
    step), no telemetry, and no periodic upgrade check (offline it waits 60 s; PlatformIO is
    pinned in requirements.txt and upgraded there)."""
    from platformio import __version__, app

    if app.get_state_item("last_version") != __version__:
        app.set_state_item("last_version", __version__)
    app.set_setting("enable_telemetry", False)  # stored in the core, whatever the environment says
    app.set_setting("check_platformio_interval", 36500)


def check_core(core_dir):
    """Ask PlatformIO itself, offline, where its build engine is."""
    from platformio.package.manager.core import get_core_package_dir

    found = get_core_package_dir("tool-scons", auto_install=False)
    if not found or os.path.realpath(found) != os.path.realpath(os.path.join(core_dir, "packages", "tool-scons")):
        sys.exit("setup_platformio: PlatformIO does not accept %s/packages/tool-scons (found: %s)" % (core_dir, found))


def main():
    core_dir = os.path.abspath(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PLATFORMIO_CORE_DIR", os.path.join(ROOT, ".pio-core"))
    )
    os.environ["PLATFORMIO_CORE_DIR"] = core_dir  # before importing platformio's app/state
    os.makedirs(core_dir, exist_ok=True)
    install_tool_scons(core_dir)
    configure_core()
    check_core(core_dir)
    print("setup_platformio: core ready for offline builds in %s" % core_dir)


if __name__ == "__main__":
    main()
