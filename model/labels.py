"""Label names with a meaning of their own, and the label order of a folder-per-class dataset.

`_silence_` and `_unknown_` keep the Speech Commands meaning wherever they appear (a dataset folder,
a checkpoint's labels): classes the detector never reports (codegen writes them as
BITEAR_MODEL_NEVER_EVENT_MASK). `_background_noise_` is a folder of long noise recordings, not a class.
"""
from __future__ import annotations

from typing import Iterable

SILENCE_LABEL = "_silence_"
UNKNOWN_LABEL = "_unknown_"
BACKGROUND_FOLDER = "_background_noise_"
NEVER_EVENT_LABELS: tuple[str, ...] = (SILENCE_LABEL, UNKNOWN_LABEL)


def order_labels(names: Iterable[str]) -> list[str]:
    """`_silence_`, `_unknown_` first (when present), then the other names sorted (Python's str order)."""
    names = set(names)
    return [n for n in NEVER_EVENT_LABELS if n in names] + sorted(names - set(NEVER_EVENT_LABELS))
