"""The one error type bitear raises for problems a user can fix (bad file, missing tool, wrong path)."""


class BitearError(Exception):
    """User-facing error with a clear message: what went wrong, with which file or tool, and what to do."""
