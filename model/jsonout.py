"""The one JSON line of a `--json` output: valid JSON whatever the figures hold.

`json_line(obj)` turns NaN and infinities (a division by zero somewhere, a figure of an empty
set) into null before encoding, and encodes with allow_nan=False, so the line never holds the
`NaN` / `Infinity` tokens that Python's json writes by default and that are not JSON.
"""
from __future__ import annotations

import json
import math


def finite(obj):
    """obj with every non-finite float replaced by None (dicts, lists and tuples walked)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def json_line(obj) -> str:
    return json.dumps(finite(obj), allow_nan=False)
