"""model/facts.py: every fact it reads from the C headers equals what the C compiler makes of the
same headers (a small C program prints them, built with the host gcc), its errors name the header
and the name, and no other Python module parses C with regular expressions."""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from model import facts as F
from model.errors import BitearError
from tests.c_build import build_driver

ROOT = Path(__file__).resolve().parent.parent

PRINT_FACTS = r"""
#include <stdio.h>
#include "app.h"
#include "bitear_frontend.h"
#include "board_qemu_mps2.h"

#define NUM(name) printf("%s %ld\n", #name, (long)(name));
#define STATUS(name, value, text) printf("status %d %s %s\n", (int)(value), #name, text);
#define MESSAGE(name, code, lo, hi, text) printf("message %s %d %d %d\n", #name, (int)(code), (int)(lo), (int)(hi));
#define COUNTER(name, text) printf("counter %s\n", #name);

int main(void)
{
    NUM(BITEAR_SAMPLE_RATE) NUM(BITEAR_FRONTEND_WINDOW) NUM(BITEAR_FRONTEND_HOP) NUM(BITEAR_FRONTEND_FFT_SIZE)
    NUM(BITEAR_FRONTEND_BINS) NUM(BITEAR_FRONTEND_CLIP_SAMPLES) NUM(BITEAR_FRONTEND_FRAMES)
    NUM(BITEAR_FRONTEND_FMIN_HZ) NUM(BITEAR_FRONTEND_FMAX_HZ) NUM(BITEAR_FRONTEND_LOG_SCALE)
    NUM(BITEAR_FRONTEND_LOG_OFFSET) NUM(BITEAR_FRONTEND_FLOOR)
    NUM(BITEAR_PROTO_VERSION) NUM(BITEAR_PROTO_AUDIO_SAMPLES) NUM(BITEAR_PROTO_MAX_CLASSES) NUM(BITEAR_PROTO_MAX_BODY)
    NUM(BITEAR_PROTO_MAX_PAYLOAD) NUM(BITEAR_PROTO_MAX_FRAME) NUM(BITEAR_PROTO_HEADER_BYTES) NUM(BITEAR_PROTO_CRC_BYTES)
    NUM(BITEAR_PROTO_EXIT_ALL) NUM(BITEAR_PROTO_THRESHOLD_NEVER) NUM(BITEAR_PROTO_RESET_STATS)
    NUM(BITEAR_PROTO_RESET_STREAM) NUM(BITEAR_PROTO_COST_INSTRUCTIONS) NUM(BITEAR_PROTO_COST_CYCLES)
    NUM(BITEAR_PROTO_COST_MICROSECONDS) NUM(BITEAR_PROTO_RESYNC_HOPS) NUM(BITEAR_PROTO_HOP_MAX)
    printf("field window_ms %d\n", (int)sizeof(((bitear_detector_params_t *)0)->window_ms));
    printf("field suppression_ms %d\n", (int)sizeof(((bitear_detector_params_t *)0)->suppression_ms));
    printf("field min_count %d\n", (int)sizeof(((bitear_detector_params_t *)0)->min_count));
    printf("field infer_every %d\n", (int)sizeof(((bitear_proto_set_period_t *)0)->infer_every));
    NUM(BITEAR_DETECTOR_MAX_CLASSES) NUM(BITEAR_DETECTOR_CAPACITY) NUM(BITEAR_DETECTOR_DEFAULT_WINDOW_MS)
    NUM(BITEAR_DETECTOR_DEFAULT_THRESHOLD_Q15) NUM(BITEAR_DETECTOR_DEFAULT_SUPPRESSION_MS)
    NUM(BITEAR_DETECTOR_DEFAULT_MIN_COUNT)
    NUM(APP_INFER_EVERY) NUM(BITEAR_STREAM_PERIOD_WINDOW) NUM(BITEAR_STREAM_PERIOD_STREAMING) NUM(BITEAR_MODEL_STREAMABLE)
    NUM(APP_QUEUE_HOPS) NUM(APP_HOP_MS) NUM(APP_DETECTOR_MIN_SPAN_MS) NUM(BITEAR_QEMU_INSTRUCTIONS_PER_TICK)
    BITEAR_STATUS_LIST(STATUS)
    BITEAR_PROTO_MESSAGE_LIST(MESSAGE)
    BITEAR_PROTO_DECODER_COUNTERS(COUNTER)
#undef COUNTER
#define COUNTER(name, text) printf("stats %s\n", #name);
    BITEAR_PROTO_STATS_LIST(COUNTER)
    return 0;
}
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> list[str]:
    tmp = tmp_path_factory.mktemp("facts")
    (tmp / "print_facts.c").write_text(PRINT_FACTS)
    exe = build_driver(tmp / "print_facts", tmp / "print_facts.c", [], ["-I", str(ROOT / "firmware" / "src"), "-I", str(ROOT / "firmware" / "lib" / "board")])
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()


def test_numbers_are_what_the_compiler_computes(compiled):
    c = {name: int(value) for name, value in (line.split() for line in compiled if len(line.split()) == 2
                                               and line.split()[0].isupper())}
    assert (F.SAMPLE_RATE, F.WINDOW, F.HOP, F.FFT_SIZE, F.BINS, F.CLIP_SAMPLES, F.FRAMES) == (
        c["BITEAR_SAMPLE_RATE"], c["BITEAR_FRONTEND_WINDOW"], c["BITEAR_FRONTEND_HOP"], c["BITEAR_FRONTEND_FFT_SIZE"],
        c["BITEAR_FRONTEND_BINS"], c["BITEAR_FRONTEND_CLIP_SAMPLES"], c["BITEAR_FRONTEND_FRAMES"])
    assert (F.FMIN_HZ, F.FMAX_HZ, F.LOG_SCALE, F.LOG_OFFSET, F.FLOOR) == (
        c["BITEAR_FRONTEND_FMIN_HZ"], c["BITEAR_FRONTEND_FMAX_HZ"], c["BITEAR_FRONTEND_LOG_SCALE"],
        c["BITEAR_FRONTEND_LOG_OFFSET"], c["BITEAR_FRONTEND_FLOOR"])
    assert F.HOP_MS == c["APP_HOP_MS"]
    for fact, name in [("PROTO_VERSION", "VERSION"), ("AUDIO_SAMPLES", "AUDIO_SAMPLES"), ("MAX_CLASSES", "MAX_CLASSES"),
                       ("MAX_BODY", "MAX_BODY"), ("MAX_PAYLOAD", "MAX_PAYLOAD"), ("MAX_FRAME", "MAX_FRAME"),
                       ("HEADER_BYTES", "HEADER_BYTES"), ("CRC_BYTES", "CRC_BYTES"), ("EXIT_ALL", "EXIT_ALL"),
                       ("THRESHOLD_NEVER", "THRESHOLD_NEVER"), ("RESET_STATS", "RESET_STATS"),
                       ("RESET_STREAM", "RESET_STREAM")]:
        assert getattr(F, fact) == c[f"BITEAR_PROTO_{name}"], fact
    assert F.COST_UNITS == {c["BITEAR_PROTO_COST_INSTRUCTIONS"]: "instructions", c["BITEAR_PROTO_COST_CYCLES"]: "cycles",
                            c["BITEAR_PROTO_COST_MICROSECONDS"]: "microseconds"}
    assert (F.DETECTOR_MAX_CLASSES, F.DETECTOR_CAPACITY) == (c["BITEAR_DETECTOR_MAX_CLASSES"], c["BITEAR_DETECTOR_CAPACITY"])
    assert F.DETECTOR_DEFAULTS == {k: c[f"BITEAR_DETECTOR_DEFAULT_{k.upper()}"]
                                   for k in ("window_ms", "threshold_q15", "suppression_ms", "min_count")}
    assert (F.PERIOD_WINDOW, F.PERIOD_STREAMING) == (c["BITEAR_STREAM_PERIOD_WINDOW"], c["BITEAR_STREAM_PERIOD_STREAMING"])
    assert F.default_period(bool(c["BITEAR_MODEL_STREAMABLE"])) == c["APP_INFER_EVERY"]
    assert F.QUEUE_HOPS == c["APP_QUEUE_HOPS"]
    assert F.DETECTOR_MIN_SPAN_MS == c["APP_DETECTOR_MIN_SPAN_MS"] == 240
    assert (F.RESYNC_HOPS, F.HOP_MAX) == (c["BITEAR_PROTO_RESYNC_HOPS"], c["BITEAR_PROTO_HOP_MAX"])
    field_bytes = {line.split()[1]: int(line.split()[2]) for line in compiled if line.startswith("field ")}
    assert F.DETECTOR_LIMITS == {"window_ms": (0, 256 ** field_bytes["window_ms"] - 1),
                                 "suppression_ms": (0, 256 ** field_bytes["suppression_ms"] - 1),
                                 "min_count": (1, min(c["BITEAR_DETECTOR_CAPACITY"], 256 ** field_bytes["min_count"] - 1))}
    assert F.PERIOD_LIMITS == (1, 256 ** field_bytes["infer_every"] - 1)
    assert F.QEMU_INSTRUCTIONS_PER_TICK == c["BITEAR_QEMU_INSTRUCTIONS_PER_TICK"] == 40


def test_lists_are_what_the_compiler_expands(compiled):
    status = [line.split(" ", 3)[1:] for line in compiled if line.startswith("status ")]
    assert F.STATUS_NAMES == {int(v): name for v, name, _ in status}
    assert F.STATUS_TEXT == {int(v): text for v, _, text in status}
    assert F.status_name(-2) == "BITEAR_ERR_ARG" and F.status_name(-99) == "status -99"
    messages = [line.split()[1:] for line in compiled if line.startswith("message ")]
    assert F.MESSAGE_TYPES == {name: (int(code), int(lo), int(hi)) for name, code, lo, hi in messages}
    assert list(F.MESSAGE_TYPES) == [name for name, *_ in messages]          # the C order
    assert F.DECODER_COUNTERS == tuple(line.split()[1] for line in compiled if line.startswith("counter "))
    assert F.STATS_FIELDS == tuple(line.split()[1] for line in compiled if line.startswith("stats "))


def test_labels_are_typed_once_in_the_documented_order():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    order = re.search(r"Label order: `([^`]*)`", doc)[1]
    assert F.LABELS == tuple(order.split(", ")) and F.KEYWORDS == F.LABELS[2:]


def test_errors_name_the_header_and_the_name(tmp_path):
    h = tmp_path / "x.h"
    h.write_text('#define A 3u\n#define B (A * 2 + 1) /* comment */\n#define C "text"\n'
                 "#define L(X) \\\n    X(one, 1, \"a, b\") \\\n    X(two, A, \"c\")\n")
    assert F.define(h, "B") == 7
    assert F.x_list(h, "L") == [("one", "1", '"a, b"'), ("two", "A", '"c"')]
    with pytest.raises(BitearError, match=r"x\.h: no #define D \(expected an integer constant\)"):
        F.define(h, "D")
    with pytest.raises(BitearError, match=r"x\.h: #define C: '\"text\"' is not an integer constant expression"):
        F.define(h, "C")
    with pytest.raises(BitearError, match=r"x\.h: no X-macro list M\(X\)"):
        F.x_list(h, "M")
    s = tmp_path / "s.h"
    s.write_text("typedef struct {\n    uint16_t a; /* ms */\n    int8_t b;\n} s_t;\n")
    assert F.field_max(s, "s_t", "a") == 65535
    with pytest.raises(BitearError, match=r"s\.h: s_t\.b is not a field of type uint8_t"):
        F.field_max(s, "s_t", "b")
    with pytest.raises(BitearError, match=r"s\.h: no typedef struct \{\.\.\.\} t_t;"):
        F.field_max(s, "t_t", "a")
    with pytest.raises(BitearError, match=r"missing\.h: cannot read this C header"):
        F.define(tmp_path / "missing.h", "A")


# ---- nobody else parses C ---------------------------------------------------------------------------

# A regular expression "parses C" when its pattern holds C syntax: a preprocessor line, an X-macro
# row, a BITEAR_ name, a declaration or an initializer.
C_PATTERN = re.compile(r"#\s*(define|include)|\bX\\\(|BITEAR_|\bconst\b|\bstatic\b|\\\{|\\\.\S+ = ")
RE_FUNCTIONS = {"search", "match", "fullmatch", "findall", "finditer", "compile", "sub", "subn", "split"}


def c_parsing_regexes(path: Path) -> list[int]:
    """Lines of re.<function>(pattern, ...) calls in a Python file whose pattern looks like C."""
    tree = ast.parse(path.read_text(), str(path))
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RE_FUNCTIONS
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args):
            pattern = node.args[0]
            parts = [pattern.value] if isinstance(pattern, ast.Constant) and isinstance(pattern.value, str) else [
                v.value for v in getattr(pattern, "values", []) if isinstance(v, ast.Constant)]
            if any(C_PATTERN.search(p) for p in parts):
                lines.append(node.lineno)
    return lines


def python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / p for p in out if (ROOT / p).is_file()]


def test_the_check_recognises_a_c_reader(tmp_path):
    reader = tmp_path / "reader.py"
    reader.write_text('import re\nname = "X"\nre.search(rf"#define {name} (\\d+)", "")\n'
                      're.findall(r"\\.head = (-?\\d+),", "")\nre.search(r"\\d+(\\.\\d+)+", "1.51")\n')
    assert c_parsing_regexes(reader) == [3, 4]


def test_no_module_but_facts_parses_c_with_regular_expressions():
    files = python_files()
    assert ROOT / "model" / "facts.py" in files and len(files) > 50
    offenders = {}
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel in ("model/facts.py", "tests/test_facts.py"):
            continue
        lines = c_parsing_regexes(path)
        if lines:
            offenders[rel] = lines
    assert offenders == {}, f"C read with regular expressions outside model/facts.py (import from it instead): {offenders}"
