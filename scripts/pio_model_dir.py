# PlatformIO pre-script (extra_scripts in platformio.ini): build the firmware with a model's tables
# from another folder, leaving the committed firmware/lib/bitear/bitear_model_tables.* untouched.
#
#   python -m codegen CKPT -o DIR                      # DIR: bitear_model_tables.h/.c + manifest
#   make build MODEL_DIR=DIR                           # or, by hand:
#   BITEAR_MODEL_DIR=DIR PLATFORMIO_BUILD_DIR=DIR/build .venv/bin/pio run -e qemu_m4
#
# With BITEAR_MODEL_DIR set, the libraries are taken from $BUILD_DIR/model_lib/ instead of
# firmware/lib/: links to every library folder, except bitear/, which holds links to the plugin's
# files and DIR's two tables (the runtime includes "bitear_model_tables.h" from its own folder).
# A model with more classes than the detector's default holds sets BITEAR_DETECTOR_MAX_CLASSES to
# its class count (the checkpoint validator keeps it within the protocol's 32).
# Give each model its own PLATFORMIO_BUILD_DIR (make does) so that its firmware does not replace
# the shipped model's in .pio/build.
import json
import os
import sys

Import("env")  # noqa: F821 (SCons provides Import)

TABLES = ("bitear_model_tables.h", "bitear_model_tables.c")
MANIFEST = "bitear_model_manifest.json"
DETECTOR_DEFAULT_MAX_CLASSES = 12  # bitear_detector.h
LIB_DIR = env.GetProjectConfig().get("platformio", "lib_dir")  # noqa: F821 (firmware/lib)


def fail(message):
    sys.stderr.write(f"error: BITEAR_MODEL_DIR: {message}\n")
    env.Exit(2)  # noqa: F821


def link(src, dst):
    """dst -> src (replaced when it points elsewhere)."""
    if os.path.islink(dst) and os.readlink(dst) == src:
        return
    if os.path.lexists(dst):
        os.remove(dst)
    os.symlink(src, dst)


def overlay(model_dir):
    lib_dir = LIB_DIR
    out = os.path.join(env.subst("$BUILD_DIR"), "model_lib")  # noqa: F821
    os.makedirs(os.path.join(out, "bitear"), exist_ok=True)
    for name in sorted(os.listdir(lib_dir)):
        if name != "bitear" and os.path.isdir(os.path.join(lib_dir, name)):
            link(os.path.join(lib_dir, name), os.path.join(out, name))
    plugin = os.path.join(lib_dir, "bitear")
    wanted = set()
    for name in sorted(os.listdir(plugin)):
        if name.endswith((".c", ".h")):
            src = os.path.join(model_dir if name in TABLES else plugin, name)
            link(src, os.path.join(out, "bitear", name))
            wanted.add(name)
    for name in os.listdir(os.path.join(out, "bitear")):
        if name not in wanted:
            os.remove(os.path.join(out, "bitear", name))
    return out


model_dir = os.environ.get("BITEAR_MODEL_DIR", "").strip()
if model_dir:
    model_dir = os.path.abspath(model_dir)
    if not os.path.isdir(model_dir):
        fail(f"{model_dir} is not a folder (write one with: python -m codegen CHECKPOINT -o {model_dir})")
    missing = [n for n in TABLES + (MANIFEST,) if not os.path.isfile(os.path.join(model_dir, n))]
    if missing:
        fail(f"{model_dir} lacks {', '.join(missing)} (write them with: python -m codegen CHECKPOINT -o {model_dir})")
    try:
        with open(os.path.join(model_dir, MANIFEST)) as f:
            classes = int(json.load(f)["classes"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{os.path.join(model_dir, MANIFEST)}: no class count ({e})")
    libs = overlay(model_dir)
    env.Replace(LIBSOURCE_DIRS=[libs] + [d for d in env["LIBSOURCE_DIRS"] if d != LIB_DIR])  # noqa: F821
    if classes > DETECTOR_DEFAULT_MAX_CLASSES:
        env.Append(CPPDEFINES=[("BITEAR_DETECTOR_MAX_CLASSES", classes)])  # noqa: F821
    print(f"bitear: model tables from {model_dir} ({classes} classes)")
