"""Import a generator script that lives next to the firmware test it feeds (e.g.
firmware/test/test_protocol/make_vectors.py), which is not inside a Python package."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType:
    """The module of the Python file at path, imported once under the name of its file."""
    name = f"bitear_script_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
