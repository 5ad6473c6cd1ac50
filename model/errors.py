"""The one error type bitear raises for problems a user can fix (bad file, missing tool, wrong path),
and the command-line wrapper that turns it into one line on stderr instead of a traceback."""
from __future__ import annotations

import sys
from typing import Callable


class BitearError(Exception):
    """User-facing error with a clear message: what went wrong, with which file or tool, and what to do."""


def run_cli(run: Callable[[], int], interrupted: str = "interrupted") -> int:
    """Exit code of `run()`; a BitearError prints `error: ...` and gives 2, Ctrl-C prints `interrupted` and gives 130."""
    try:
        return run()
    except BitearError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
