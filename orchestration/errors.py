"""Errors a person can act on: each says what went wrong, where, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class OrchError(Exception):
    """Base of every error orch-tui reports to a person (no traceback is shown for these)."""

    exit_code = 1


@dataclass
class InputProblem:
    """One problem with a file the user gave us: where it is and how to fix it."""

    path: Path | None
    line: int | None
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        text = f"{where}{self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class BadInput(OrchError):
    """Bad usage or bad input; the CLI exits 2 with this message on stderr."""

    exit_code = 2

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None,
                 fix: str = "") -> None:
        self.problem = InputProblem(path, line, message, fix)
        super().__init__(str(self.problem))
