"""Judging an OpenCode session from its parts (recorded from opencode 1.18.33)."""

from __future__ import annotations

from pathlib import Path

from orch_tui.orchestration.agents.opencode_events import OpenCodeVerdict
from orch_tui.orchestration.events import LaneOutcome, LaneProgress

WORKTREE = Path("/work/lane-1")


def tool(name: str, status: str, **state: object) -> dict[str, object]:
    return {"type": "tool", "tool": name, "callID": f"call_{name}_{status}", "state": {"status": status, **state}}


def verdict() -> tuple[OpenCodeVerdict, list[LaneProgress]]:
    events: list[LaneProgress] = []
    return OpenCodeVerdict(1, "bd-1", WORKTREE, events.append), events  # type: ignore[arg-type]


def test_failed_edit_fails_unless_the_same_edit_later_succeeds() -> None:
    judge, _ = verdict()
    edit = {"filePath": f"{WORKTREE}/src/a.py", "oldString": "x", "newString": "y"}
    judge.on_part(tool("edit", "error", input=edit, error="Could not find oldString in the file."))
    assert judge.judge(("src/a.py",)) == (LaneOutcome.FAILED, "edit src/a.py failed: Could not find oldString in the file.")
    judge.on_part(tool("edit", "completed", input=edit, output="Edit applied successfully."))
    assert judge.judge(("src/a.py",))[0] is LaneOutcome.SUCCEEDED


def test_bash_with_a_non_zero_exit_fails_the_task() -> None:
    judge, _ = verdict()
    judge.on_part(tool("bash", "completed", input={"command": "pytest -q"}, output="1 failed",
                       metadata={"output": "1 failed", "exit": 1}))
    assert judge.judge(("src/a.py",)) == (LaneOutcome.FAILED, "bash pytest -q exited with status 1")


def test_session_error_and_no_changes_fail_and_tokens_add_up() -> None:
    judge, events = verdict()
    judge.on_part({"type": "step-finish", "reason": "stop", "tokens": {"total": 120}, "cost": 0.25})
    assert events[-1].tokens == 120 and events[-1].cost == 0.25
    assert judge.judge(()) == (LaneOutcome.FAILED, "the agent changed no files")
    judge.on_error({"name": "APIError", "data": {"message": "Bad Request: model not found"}})
    assert judge.judge(("a",)) == (LaneOutcome.FAILED, "opencode error: Bad Request: model not found")


def test_retry_status_reaches_the_lane() -> None:
    judge, events = verdict()
    judge.on_status({"type": "retry", "attempt": 2, "message": "Connection refused"})
    assert (events[-1].status, events[-1].action) == ("retry", "retry 2: Connection refused")
