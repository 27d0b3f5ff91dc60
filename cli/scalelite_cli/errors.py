"""The CLI's errors: each is shown to the operator as one `error: …` line on stderr (exit 1)."""

from __future__ import annotations


class CLIError(Exception):
    """Shown to the operator as one line: `error: <message>`."""


class CommandFailed(CLIError):
    """The admin function refused the command; `status` is its HTTP-like code (409: repeat with force)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
