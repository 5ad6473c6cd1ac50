"""Front-end numbers come from model/facts.py only: no Python module of model/, codegen/ or host/ types the
sample rate, hop, window or frame count (16000, 320, 480, 49) as a number in its code (comments and
docstrings may say them). Exempt: model/facts.py itself, model/frontend_reference.py (the parameters the
table generator writes into bitear_frontend_tables.h, which facts then reads) and model/student.py's
default config (a checkpoint's own record of its input shape)."""
from __future__ import annotations

import io
import tokenize
from pathlib import Path

from model.paths import REPO_ROOT

FRONT_END_NUMBERS = {"16000", "320", "480", "49"}
EXEMPT = {"model/facts.py", "model/frontend_reference.py", "model/student.py"}


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
