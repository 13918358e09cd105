"""The named steps of a lane and of a merge, so any failure says where it happened and what to do.

Every step the engine takes for a lane or a merge runs through `run_step`: whatever it raises
(an OrchError, a CalledProcessError, a bug) comes out as one `StepFailed` naming the step and
its fix, and a step that can block gets a deadline. The engine turns a `StepFailed` into a
lane outcome or a merge that waits for a person; it never ends a lane's task unseen.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from collections.abc import Awaitable
from typing import TypeVar

from orch_tui.orchestration.errors import OrchError

T = TypeVar("T")

_MAX_CAUSE_CHARS = 600


@dataclass(frozen=True)
class Step:
    name: str
    """What was being done, as a person would say it ("committing the agent's leftover changes")."""
    fix: str
    """What a person can do about a failure here."""


RETRY = "press R on the task (or run again) to retry it; its work stays on its branch"

ASSIGN_WORKTREE = Step("assigning the lane's worktree",
                       "check the lane with `git worktree list` and the disk space, then " + RETRY)
CLAIM_FILES = Step("claiming the task's files", "check Agent Mail (`orch-tui status`), then " + RETRY)
CONFIRM_CLAIM = Step("confirming the claim with Agent Mail",
                     "check that the Agent Mail server answers, then " + RETRY)
MARK_IN_PROGRESS = Step("marking the task in progress in Beads",
                        "check that .beads/ is writable (or `bd` works), then " + RETRY)
START_AGENT = Step("starting the agent", "check the agent's configuration (`agent`, `opencode_binary`), then " + RETRY)
RUN_AGENT = Step("running the agent", "read the lane's log, then " + RETRY)
LIVE_DIFF = Step("watching the lane's diff", "the agent's work is on its branch; " + RETRY)
COMMIT_LEFTOVERS = Step("committing the agent's leftover changes",
                        "the changes are still in the lane's worktree: commit them there by hand, or " + RETRY)
DROP_TRACKER_EDITS = Step("dropping the agent's edits to .beads/",
                          "the work is on its branch; " + RETRY)
REOPEN_TASK = Step("reopening the task in Beads", "set the task's status back to open by hand (`bd update`)")
RELEASE_FILES = Step("giving back the lane's reservations",
                     "they expire by themselves after reservation_ttl_seconds")
PREDICT_MERGE = Step("predicting the merge", "check the branch with `git log`; then continue (c) or abort (A)")
MERGE_BRANCH = Step("merging the branch",
                    "look at the merge worktree; continue (c) retries the merge, abort (A) keeps the branch for later")
CLOSE_TASK = Step("closing the merged task in Beads",
                  "the work is merged; close the task by hand (`bd close`) or restart orch-tui, which closes it")
PREPARE_LANE = Step("preparing the lane's environment (ports, lane_copy, lane_setup_command)",
                    "check the lane_* settings and the lane's worktree, then " + RETRY)
GUARD_COPIES = Step("keeping the lane's copied files (lane_copy) out of its commits",
                    "check the lane's .gitignore and its branch, then " + RETRY)
CHECK_LANE = Step("running the lane check (lane_check_command)",
                  "run the check by hand in the lane's worktree, then " + RETRY)
READ_CHECKOUT = Step("reading which branch your checkout is on", "nothing to do: the merges go on")
PREPARE_MERGE_WORKTREE = Step("creating the merge worktree",
                              "nothing to do now: the first merge creates it (check the disk space "
                              "and `git worktree list` if that fails too)")


class StepFailed(OrchError):
    """A named step failed (or took too long); `cause` is what it raised."""

    def __init__(self, step: Step, cause: BaseException) -> None:
        self.step = step
        self.cause = cause
        super().__init__(f"{step.name} failed: {describe_cause(cause)} (fix: {step.fix})")


def describe_cause(error: BaseException) -> str:
    """The error in one short paragraph: an OrchError's own words, else its type and message."""
    if isinstance(error, TimeoutError):
        text = str(error) or "it did not finish in time"
    elif isinstance(error, OrchError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        stderr = getattr(error, "stderr", None)
        if isinstance(stderr, (str, bytes)) and stderr:
            text += ": " + (stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr).strip()
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CAUSE_CHARS else text[:_MAX_CAUSE_CHARS] + " [...]"


async def run_step(step: Step, work: Awaitable[T], *, timeout: float | None = None) -> T:
    """Await `work` as `step`: any exception (or passing `timeout` seconds) becomes StepFailed.

    Cancellation passes through untouched: it is how a person aborts a lane and how the
    engine shuts down.
    """
    try:
        if timeout is None:
            return await work
        try:
            async with asyncio.timeout(timeout):
                return await work
        except TimeoutError as late:
            raise StepFailed(step, TimeoutError(f"no answer within {timeout:g} s")) from late
    except (asyncio.CancelledError, StepFailed):
        raise
    except Exception as error:  # noqa: BLE001 - every failure is named, never lost
        raise StepFailed(step, error) from error
