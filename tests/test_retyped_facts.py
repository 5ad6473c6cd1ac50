"""Front-end numbers are typed once: no Python module of model/, codegen/ or host/ types the sample rate,
hop, window or frame count (16000, 320, 480, 49) as a number in its code (comments and docstrings may
say them); they come from model/facts.py. Exempt: model/facts.py itself, model/frontend_reference.py (the
parameters the table generator writes into bitear_frontend_tables.h, which facts then reads) and
model/student.py's default config (a checkpoint's own record of its input shape).

The same holds for the C of the plugin, the application, the evaluation build and the fuzz targets:
the numbers are BITEAR_* macros of bitear_frontend.h (which defines them). Exempt: generated tables,
and bitear_protocol.h, whose wire format fixes 320 samples per AUDIO frame (app.c refuses to compile
when that differs from BITEAR_FRONTEND_HOP). The firmware's Unity tests state their expected values
themselves and are not checked."""
from __future__ import annotations

import io
import re
import subprocess
import tokenize
from pathlib import Path

from model.paths import REPO_ROOT
from model.toolchain import host_cc

FRONT_END_NUMBERS = {"16000", "320", "480", "49"}
EXEMPT = {"model/facts.py", "model/frontend_reference.py", "model/student.py"}
C_FOLDERS = ("firmware/lib", "firmware/src", "firmware/eval", "firmware/fuzz", "codegen")
C_EXEMPT = {"bitear_frontend.h", "bitear_protocol.h"}
C_NUMBER = re.compile(r"(?<![\w.])(16000|320|480|49)[uUlL]*(?![\w.])")


def retyped(path: Path) -> list[str]:
    """`path:line: code` of every number token in FRONT_END_NUMBERS."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [f"{path.relative_to(REPO_ROOT)}:{t.start[0]}: {t.line.strip()}" for t in tokens
            if t.type == tokenize.NUMBER and t.string in FRONT_END_NUMBERS]


def test_no_module_retypes_a_front_end_number():
    files = [p for pkg in ("model", "codegen", "host") for p in sorted((REPO_ROOT / pkg).glob("*.py"))
             if str(p.relative_to(REPO_ROOT)) not in EXEMPT]
    assert [hit for p in files for hit in retyped(p)] == []


def test_the_check_sees_a_retyped_number(tmp_path):
    module = REPO_ROOT / "model" / ".retyped_probe.py"
    try:
        module.write_text('"""hop 320 in a docstring is fine"""\nHOP = 320  # not fine\n')
        assert [h.split(":", 2)[1] for h in retyped(module)] == ["2"]
    finally:
        module.unlink()


def c_retyped(path: Path) -> list[str]:
    """`path: code` of every front-end number in the code of a C file (comments and strings removed)."""
    code = subprocess.run([host_cc(), "-fpreprocessed", "-dD", "-E", "-P", "-x", "c", str(path)],
                          capture_output=True, text=True, check=True).stdout
    code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
    return [f"{path.relative_to(REPO_ROOT)}: {line.strip()}" for line in code.splitlines() if C_NUMBER.search(line)]


def c_sources() -> list[Path]:
    return [p for folder in C_FOLDERS for p in sorted((REPO_ROOT / folder).rglob("*.[ch]"))
            if p.name not in C_EXEMPT and "_tables" not in p.name]


def test_no_c_source_retypes_a_front_end_number():
    assert [hit for p in c_sources() for hit in c_retyped(p)] == []


def test_the_c_check_sees_a_retyped_number_and_not_a_comment():
    probe = REPO_ROOT / "firmware" / "lib" / ".retyped_probe.c"
    try:
        probe.write_text('/* 320 samples */\nstatic const char *s = "49";\nint hop(void) { return 320; }\nint f(void) { return 3200; }\n')
        assert c_retyped(probe) == ["firmware/lib/.retyped_probe.c: int hop(void) { return 320; }"]
    finally:
        probe.unlink()
