"""The hand-off to a person: a merge that cannot go on alone waits for an answer.

A question (a conflict, a failed `verify_command`, a merge step that failed, a lane check
that failed) puts the engine in `waiting_for_person`; the merge coordinator awaits the
question's future. The person's commands answer it: `continue_merge` (the new outcome of a
resolved conflict, or RETRY_MERGE after an error), `abort_merge` (None), `answer_check`
(merge anyway, retry, drop). The engine leaves the waiting state before the future is
answered, so the merge coordinator never sees it stale.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineState, HunkChoice
from orch_tui.orchestration.engine.context import EngineContext
from orch_tui.orchestration.engine.journal import MergeRecord
from orch_tui.orchestration.engine.steps import StepFailed
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.lane_check import CheckAnswer, CheckResult
from orch_tui.orchestration.merging.queue import MergeOutcome
from orch_tui.orchestration.states import MergeStatus

RETRY_MERGE: Literal["retry"] = "retry"
"""A person's answer to a merge that failed with an error: try the merge again."""

MergeAnswer = MergeOutcome | Literal["retry"] | None
"""The outcome after a person resolved and continued, RETRY_MERGE, or None: aborted."""

T = TypeVar("T")


@dataclass
class _MergeQuestion:
    task_id: str
    resume: EngineState
    on_error: bool
    """A merge step failed: nothing of git's to continue, continuing tries the merge again."""
    answer: asyncio.Future[MergeAnswer] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _CheckQuestion:
    task_id: str
    resume: EngineState
    answer: asyncio.Future[CheckAnswer] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _settle(future: asyncio.Future[T], value: T) -> None:
    if not future.done():  # the asker was cancelled meanwhile (the engine is closing)
        future.set_result(value)


class PersonHandOff:
    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self._merges = ctx.parts.merges
        self._question: _MergeQuestion | _CheckQuestion | None = None

    # ----- asking (the merge coordinator) ---------------------------------------------------
    async def ask_about_merge(self, merge: MergeRecord, outcome: MergeOutcome | StepFailed) -> MergeAnswer:
        """Stop the queue until a person continues or aborts the merge of `merge`."""
        if isinstance(outcome, StepFailed):
            merge.state = MergeStatus.VERIFY_FAILED
            self._ctx.emit(ev.MergeCheckFailed(merge.task_id, merge.branch, str(outcome)))
            summary = outcome.step.name + " failed"
        else:
            if outcome.status == MergeStatus.CONFLICT and outcome.conflict is not None:
                merge.state = MergeStatus.CONFLICT
                self._ctx.emit(ev.MergeConflict(merge.task_id, merge.branch,
                                                tuple(file.path for file in outcome.conflict.files),
                                                outcome.conflict))
            else:
                merge.state = MergeStatus.VERIFY_FAILED
                detail = outcome.verification.output if outcome.verification else ""
                self._ctx.emit(ev.MergeCheckFailed(merge.task_id, merge.branch,
                                                   f"{outcome.message}\n{detail}".strip()))
            summary = outcome.message
        question = _MergeQuestion(merge.task_id, self._ctx.state, on_error=isinstance(outcome, StepFailed))
        await self._wait(question, f"{merge.task_id}: {summary}")
        try:
            return await question.answer
        finally:
            self._question = None

    async def ask_about_check(self, merge: MergeRecord, check: CheckResult) -> CheckAnswer:
        """The lane's check failed: merge anyway, retry or drop (abort_merge drops)."""
        merge.state = MergeStatus.HELD
        self._ctx.emit(ev.MergeHeldForCheck(merge.task_id, merge.branch, check))
        question = _CheckQuestion(merge.task_id, self._ctx.state)
        await self._wait(question, f"{merge.task_id}: lane check failed; merge anyway, retry or drop")
        try:
            return await question.answer
        finally:
            self._question = None

    async def _wait(self, question: _MergeQuestion | _CheckQuestion, detail: str) -> None:
        self._question = question
        await self._ctx.set_state(EngineState.WAITING_FOR_PERSON, detail)

    async def _leave_waiting(self, question: _MergeQuestion | _CheckQuestion) -> None:
        """Back where the engine was, before the asker runs on."""
        self._question = None
        await self._ctx.set_state(question.resume)

    # ----- answering (a person's commands) --------------------------------------------------
    def _merge_question(self) -> _MergeQuestion:
        question = self._question
        if isinstance(question, _CheckQuestion):
            raise OrchError(f"the merge of {question.task_id} is held for its failed lane check: "
                            "merge it anyway, retry or drop it")
        if question is None:
            raise OrchError("no merge is waiting for a person")
        return question

    async def resolve_hunk(self, path: str, hunk: int, choice: HunkChoice) -> None:
        self._merge_question()
        await asyncio.to_thread(self._merges.resolve_hunk, path, hunk, choice.value)
        await self._refresh_conflict(f"{path}: hunk {hunk + 1} takes {choice.value}")

    async def resolve_file(self, path: str, choice: HunkChoice) -> None:
        self._merge_question()
        await asyncio.to_thread(self._merges.resolve_file, path, choice.value)
        await self._refresh_conflict(f"{path}: takes {choice.value}")

    async def write_resolution(self, path: str, content: str) -> None:
        self._merge_question()
        await asyncio.to_thread(self._merges.write_resolution, path, content)
        await self._refresh_conflict(f"{path}: resolved by hand")

    async def _refresh_conflict(self, line: str) -> None:
        self._ctx.emit(ev.ConflictChanged(await asyncio.to_thread(self._merges.conflict)))
        self._ctx.log(line)

    async def continue_merge(self) -> None:
        """Commit the resolution and move on; raises (queue still waiting) while hunks remain."""
        question = self._merge_question()
        answer: MergeAnswer
        if question.on_error:  # nothing of git's to continue: the merge is tried again
            answer = RETRY_MERGE
            self._ctx.log("trying the merge again")
        else:
            outcome = await asyncio.to_thread(self._merges.continue_merge)
            self._ctx.emit(ev.ConflictChanged(outcome.conflict))
            answer = outcome
        await self._leave_waiting(question)
        _settle(question.answer, answer)

    async def abort_merge(self) -> None:
        """The merge stops; its branch is kept for a later batch (a held check: dropped)."""
        question = self._question
        if isinstance(question, _CheckQuestion):
            await self._leave_waiting(question)
            _settle(question.answer, CheckAnswer.DROP)
            return
        question = self._merge_question()
        await asyncio.to_thread(self._merges.abort_merge)
        self._ctx.emit(ev.ConflictChanged(None))
        await self._leave_waiting(question)
        _settle(question.answer, None)

    async def answer_check(self, task_id: str, answer: CheckAnswer) -> None:
        """A person's answer to the merge held by a failed lane check."""
        question = self._question
        if not isinstance(question, _CheckQuestion):
            raise OrchError("no merge is held for a failed lane check")
        if task_id != question.task_id:
            raise OrchError(f"the merge held for its lane check is {question.task_id}, not {task_id}")
        await self._leave_waiting(question)
        _settle(question.answer, CheckAnswer(answer))
