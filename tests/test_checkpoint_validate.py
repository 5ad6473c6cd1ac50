"""One checkpoint validator (model/checkpoint.py) for model.evaluate and codegen: every bad
checkpoint below is one line naming the problem with exit code 2 from BOTH commands (model.evaluate
used to print "accuracy 0.00 %" for most of them, or a traceback; codegen took the long label and
gave a traceback or a vague message for others); the C limits it checks labels against are the
header's; a --json line never holds NaN."""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from codegen import __main__ as codegen_cli
from codegen import testing
from model import checkpoint as C
from model import evaluate
from model.checkpoint import read_checkpoint, read_safetensors
from model.jsonout import json_line
from tests.c_build import build_driver


@pytest.fixture(scope="module")
def good() -> Path:
    return testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35])


def rewrite(src: Path, dst: Path, meta_edit=None, tensor_edit=None) -> Path:
    """A copy of a safetensors checkpoint with its bitear metadata and/or tensors edited (written
    here byte by byte, so the reader under test does not check its own writer)."""
    tensors, raw = read_safetensors(src)
    meta = json.loads(raw[C.METADATA_KEY])
    if meta_edit:
        meta_edit(meta)
    if tensor_edit:
        tensor_edit(tensors)
    header, blobs, offset = {}, [], 0
    names = {np.dtype(v): k for k, v in C._DTYPES.items()}
    for name, value in tensors.items():
        data = np.ascontiguousarray(value).tobytes()
        header[name] = {"dtype": names[value.dtype], "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {C.METADATA_KEY: json.dumps(meta, allow_nan=True)}
    head = json.dumps(header).encode()
    dst.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    return dst


def _set(key, value):
    return lambda meta: meta.__setitem__(key, value)


def _first_float_tensor(value):
    def edit(tensors):
        name = sorted(k for k, v in tensors.items() if v.dtype.kind == "f")[0]
        tensors[name] = tensors[name].copy()
        tensors[name].flat[3] = value
    return edit


LONG = "x" * 5000
CASES = {
    "nan_weight": ({"tensor_edit": _first_float_tensor(np.nan)}, "contains NaN or infinite values"),
    "inf_weight": ({"tensor_edit": _first_float_tensor(np.inf)}, "contains NaN or infinite values"),
    "11_labels": ({"meta_edit": lambda m: m.__setitem__("labels", m["labels"][:11])}, "11 labels but config has 12 classes"),
    "other_hop": ({"meta_edit": lambda m: m["frontend"].__setitem__("hop", 160)}, "front-end parameter 'hop' is 160"),
    "nan_threshold": ({"meta_edit": _set("exit_thresholds", [float("nan"), 0.3])}, "exit threshold 0 is nan"),
    "string_threshold": ({"meta_edit": _set("exit_thresholds", [0.3, "0.3"])}, "exit threshold 1 is '0.3'"),
    "threshold_above_1": ({"meta_edit": _set("exit_thresholds", [1.5, 0.3])}, "exit threshold 0 is 1.5, expected a number in [0, 1]"),
    "long_label": ({"meta_edit": lambda m: m["labels"].__setitem__(2, LONG)}, "label 2 'xxxx"),
    "integer_labels": ({"meta_edit": lambda m: m.__setitem__("labels", list(range(12)))}, "label 0 is int 0"),
    "non_ascii_label": ({"meta_edit": lambda m: m["labels"].__setitem__(3, "ja\u00e9")}, "only printable ASCII"),
    "repeated_label": ({"meta_edit": lambda m: m["labels"].__setitem__(3, m["labels"][2])}, "labels repeat"),
    "labels_not_a_list": ({"meta_edit": _set("labels", "yes,no")}, "labels are str"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_checkpoint_is_one_line_and_exit_2_in_evaluate_and_codegen(case, good, tmp_path, capsys):
    edits, message = CASES[case]
    bad = rewrite(good, tmp_path / f"{case}.safetensors", **edits)
    (tmp_path / "data").mkdir()
    assert evaluate.main([str(bad), str(tmp_path / "data"), "--json"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"error: checkpoint {bad}: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "accuracy" not in out
    assert codegen_cli.main([str(bad), "-o", str(tmp_path / "gen"), "--vectors", "none", "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"codegen: error: checkpoint {bad}: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    if case == "long_label":
        assert len(err) < 300                     # the 5,000 characters are not echoed


def test_the_good_checkpoint_and_the_edge_values_pass(good, tmp_path):
    tensors, meta = read_checkpoint(rewrite(good, tmp_path / "same.safetensors"))
    assert meta["labels"][2] == "yes"
    edge = rewrite(good, tmp_path / "edge.safetensors", meta_edit=lambda m: (
        m.__setitem__("exit_thresholds", [0, 1]), m["labels"].__setitem__(5, "~" * C.MAX_LABEL_CHARS)))
    assert read_checkpoint(edge)[1]["exit_thresholds"] == [0, 1]
    over = rewrite(good, tmp_path / "over.safetensors",
                   meta_edit=lambda m: m["labels"].__setitem__(5, "~" * (C.MAX_LABEL_CHARS + 1)))
    with pytest.raises(C.BitearError, match=f"has {C.MAX_LABEL_CHARS + 1} characters"):
        read_checkpoint(over)


def test_label_limits_are_the_c_headers(tmp_path):
    src = tmp_path / "limits.c"
    src.write_text('#include <stdio.h>\n#include "bitear_protocol.h"\nint main(void) { printf("%u %u %u\\n", '
                   "(unsigned)BITEAR_PROTO_MAX_CLASSES, (unsigned)BITEAR_PROTO_MAX_LABEL_CHARS, "
                   "(unsigned)BITEAR_PROTO_READY_LABELS_BYTES); return 0; }\n")
    exe = build_driver(tmp_path / "limits", src, [], [])
    import subprocess
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == [C.MAX_CLASSES, C.MAX_LABEL_CHARS, C.READY_LABELS_BYTES] == [32, 23, 585]


def test_json_line_never_holds_nan():
    line = json_line({"accuracy": math.nan, "exits": [{"accuracy": math.inf}, {"accuracy": 0.5}], "n": 3,
                      "t": (-math.inf, 1.0)})

    def refuse(token):
        raise AssertionError(f"{token} is not JSON")
    assert json.loads(line, parse_constant=refuse) == {"accuracy": None, "exits": [{"accuracy": None}, {"accuracy": 0.5}],
                                                       "n": 3, "t": [None, 1.0]}
