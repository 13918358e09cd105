"""Running the configured verify command in the merge worktree before the target moves."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

VERIFY_OUTPUT_LIMIT = 8000


@dataclass
class VerificationResult:
    command: list[str]
    returncode: int | None
    """None when the command could not run or timed out."""
    output: str
    """The last VERIFY_OUTPUT_LIMIT characters of stdout and stderr."""

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def run_verification(command: list[str], cwd: Path, timeout_seconds: float) -> VerificationResult | None:
    """The verify command's result in `cwd`; None when no command is configured."""
    if not command:
        return None
    try:
        done = subprocess.run(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout_seconds, check=False)
    except FileNotFoundError:
        return VerificationResult(command, None, f"command not found: {command[0]}")
    except subprocess.TimeoutExpired as expired:
        tail = (expired.output or b"").decode(errors="replace")[-VERIFY_OUTPUT_LIMIT:]
        return VerificationResult(command, None, f"{tail}\n(timed out after {timeout_seconds:g} s)")
    return VerificationResult(command, done.returncode, done.stdout.decode(errors="replace")[-VERIFY_OUTPUT_LIMIT:])
