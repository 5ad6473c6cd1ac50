"""Where bitear finds its data and keeps its caches (one place, so every tool agrees)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = REPO_ROOT / "firmware" / "lib" / "bitear"      # the plugin: portable C99 sources and headers
TEACHER_DIR = REPO_ROOT / "model" / "teacher_ds_cnn_l"  # the teacher's weights ship with the code (Apache-2.0)


def data_dir() -> Path | None:
    """The shared data folder: $BITEAR_DATA, else ../shared/data beside the repository, else None."""
    env = os.environ.get("BITEAR_DATA")
    if env:
        return Path(env).expanduser().resolve()
    default = REPO_ROOT.parent / "shared" / "data"
    return default if default.is_dir() else None


def cache_dir(*parts: str) -> Path:
    """A folder under the on-disk cache ($BITEAR_CACHE, default .cache/bitear in the repository), created on demand."""
    root = Path(os.environ.get("BITEAR_CACHE", REPO_ROOT / ".cache" / "bitear"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
