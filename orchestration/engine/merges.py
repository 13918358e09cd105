"""The merge coordinator: when each finished lane's branch merges, in which order, and what
happens when a merge needs a person.

Lanes that finish while others still work merge at once when they merge cleanly
(`merge_while_running`); the rest merge after the last lane (`merge_finished`), predicted-clean
branches first. A conflict, a failed check or a merge step that failed waits for a person
(`PersonHandOff`); the task is closed in the tracker once its merge is journaled.
"""

from __future__ import annotations

import asyncio

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.engine.batch import Batch
from orch_tui.orchestration.engine.context import EngineContext
from orch_tui.orchestration.engine.journal import MergeRecord
from orch_tui.orchestration.engine.person import RETRY_MERGE, PersonHandOff
from orch_tui.orchestration.engine.steps import CLOSE_TASK, MERGE_BRANCH, PREDICT_MERGE, READ_CHECKOUT, StepFailed, run_step
from orch_tui.orchestration.lane_check import CheckAnswer, CheckResult
from orch_tui.orchestration.merging.queue import MergeOutcome, MergeState, Prediction
from orch_tui.orchestration.states import MergeStatus

_RESUMABLE_STAGES = ("merging", "verifying", "advancing", "checkout_dirty")
TARGET_MOVED_RETRIES = 3
"""Merges tried again at once when the target moved under them, before a person is asked."""


class MergeCoordinator:
    def __init__(self, ctx: EngineContext, person: PersonHandOff) -> None:
        self._ctx = ctx
        self._merges = ctx.parts.merges
        self._person = person

    def _merged_count(self) -> int:
        return sum(1 for merge in self._ctx.journal_state.merges if merge.state == MergeStatus.MERGED)

    # ----- scheduling -----------------------------------------------------------------------
    async def merge_while_running(self, batch: Batch) -> None:
        """Merge each finished lane at once if it merges cleanly, while other lanes work.

        Lanes that end together are merged as one series (`merge_series_if_clean`): a lane
        whose agent is done but whose work is still being committed is waited for (a few git
        commands), so the batch's last lanes cost one move of the target, not one each.
        A branch predicted to conflict waits for `merge_finished`, which orders what is
        left once every lane is done; so does everything after a merge a person stopped,
        and everything when a merge from before a restart is still in the queue.
        """
        early = await asyncio.to_thread(self._merges.merge_state) is None
        last = False
        while not last and (merge := await batch.finished.get()) is not None:
            ready = [merge]
            await batch.handing_over.empty()
            while not batch.finished.empty():
                more = batch.finished.get_nowait()
                if more is None:
                    last = True
                    break
                ready.append(more)
            if early:
                early = await self._merge_early([m for m in ready if m.state == MergeStatus.PENDING and not m.held_for_check()])

    async def _merge_early(self, ready: list[MergeRecord]) -> bool:
        """Merge what merges cleanly now; False once a person stopped a merge."""
        if len(ready) > 1 and not self._ctx.parts.config.verify_command:
            ready = ready[len(await self._merge_series(ready)):]
        for merge in ready:
            deferred = not await self._merge_one(merge, only_if_clean=True)
            if not (deferred or merge.state == MergeStatus.MERGED):  # a person aborted it: stop
                return False
        return True

    async def _merge_series(self, ready: list[MergeRecord]) -> list[MergeRecord]:
        """Merge the leading clean run of `ready` with one move of the target; the merged."""
        for merge in ready:
            merge.state = MergeStatus.MERGING
            self._ctx.emit(ev.MergeStarted(merge.task_id, merge.branch))
        await self._ctx.save_journal()
        try:
            outcomes = await run_step(MERGE_BRANCH, asyncio.to_thread(
                self._merges.merge_series_if_clean, [merge.branch for merge in ready]))
        except StepFailed as failure:  # each branch is tried again on its own, which stops if need be
            self._ctx.log(f"merging {len(ready)} branches at once: {failure}; merging them one by one", "warning")
            outcomes = []
        for merge in ready[len(outcomes):]:
            merge.state = MergeStatus.PENDING
        await self._record_merged(*[(merge, outcome.commit) for merge, outcome in zip(ready, outcomes)])
        return ready[:len(outcomes)]

    async def merge_finished(self) -> None:
        """Every lane is done: merge what is left, in the predicted order."""
        await self._ctx.set_state(EngineState.MERGING)
        pending = [merge for merge in self._ctx.journal_state.merges if merge.state not in (MergeStatus.MERGED, MergeStatus.SKIPPED)]
        for merge in await self._merge_order(pending):
            await self._merge_one(merge)

    async def _merge_order(self, pending: list[MergeRecord]) -> list[MergeRecord]:
        """Predicted-clean branches first (`git merge-tree`), each prediction shown; a merge
        a restart interrupted comes before all of them."""
        if not pending:
            return []
        try:
            predictions, ordered, interrupted = await run_step(PREDICT_MERGE, asyncio.to_thread(
                self._predict_order, [merge.branch for merge in pending]))
        except StepFailed as failure:  # a prediction only orders the queue; each merge still checks
            self._ctx.log(f"{failure}; merging in the order the lanes finished", "warning")
            return pending
        if interrupted is not None and interrupted.branch in ordered:
            ordered.remove(interrupted.branch)
            ordered.insert(0, interrupted.branch)
        position = {branch: index for index, branch in enumerate(ordered)}
        by_branch = {prediction.branch: prediction for prediction in predictions}
        pending = sorted(pending, key=lambda merge: position.get(merge.branch, len(position)))
        first = self._merged_count() + 1
        for order, merge in enumerate(pending, start=first):
            prediction = by_branch.get(merge.branch)
            files = tuple(prediction.conflicted_files) if prediction else ()
            self._ctx.emit(ev.MergePredicted(merge.task_id, merge.branch, order, files))
        return pending

    def _predict_order(self, branches: list[str]) -> tuple[list[Prediction], list[str], MergeState | None]:
        predictions = self._merges.predict(branches)
        return predictions, self._merges.suggested_order(predictions), self._merges.merge_state()

    # ----- one merge ------------------------------------------------------------------------
    async def _merge_one(self, merge: MergeRecord, *, only_if_clean: bool = False) -> bool:
        """Merge a finished lane's branch, asking a person when it needs one (a conflict, a
        failed check, or an error in any merge step). With `only_if_clean` a branch that would
        conflict is left pending instead (False)."""
        if merge.held_for_check() and not await self._hold_for_check(merge):
            return True
        merge.state = MergeStatus.MERGING
        await self._ctx.save_journal()
        self._ctx.emit(ev.MergeStarted(merge.task_id, merge.branch))
        outcome = await self._again_if_target_moved(
            merge, await (self._attempt_clean_merge(merge) if only_if_clean else self._attempt_merge(merge)),
            only_if_clean)
        if outcome is None:
            await self._defer(merge)
            return False
        while isinstance(outcome, StepFailed) or not outcome.ok:
            answer = await self._person.ask_about_merge(merge, outcome)
            if answer is None:  # aborted: the branch is kept for a later batch
                merge.state = MergeStatus.SKIPPED
                await self._ctx.save_journal()
                self._ctx.hold_back(merge.task_id, "its merge was aborted")
                await self._ctx.reopen_task(merge.task_id, merge.task_id,
                                            f"orch-tui: merge aborted by a person; work kept on {merge.branch}")
                return True
            outcome = await self._attempt_merge(merge) if answer == RETRY_MERGE else answer
        await self._record_merged((merge, outcome.commit))
        return True

    async def _again_if_target_moved(self, merge: MergeRecord, outcome: MergeOutcome | StepFailed | None,
                                     only_if_clean: bool) -> MergeOutcome | StepFailed | None:
        """The target moved under the merge (a commit the person made meanwhile): nothing was
        changed, so the branch is merged again on top of it, a few times, before asking anyone."""
        for _ in range(TARGET_MOVED_RETRIES):
            if not isinstance(outcome, MergeOutcome) or outcome.status != MergeStatus.TARGET_MOVED:
                break
            self._ctx.log(f"{merge.task_id}: {outcome.message.split(';')[0]}; merging {merge.branch} again "
                          "on top of it", "warning")
            outcome = await (self._attempt_clean_merge(merge) if only_if_clean else self._attempt_merge(merge))
        return outcome

    async def _attempt_merge(self, merge: MergeRecord) -> MergeOutcome | StepFailed:
        """The merge's outcome; StepFailed on error."""
        try:
            return await run_step(MERGE_BRANCH, asyncio.to_thread(self._start_or_resume_merge, merge.branch))
        except StepFailed as failure:
            return failure

    async def _attempt_clean_merge(self, merge: MergeRecord) -> MergeOutcome | StepFailed | None:
        """Like `_attempt_merge`, but None (nothing done) when the branch would conflict."""
        try:
            return await run_step(MERGE_BRANCH, asyncio.to_thread(self._merges.merge_if_clean, merge.branch))
        except StepFailed as failure:
            return failure

    def _start_or_resume_merge(self, branch: str) -> MergeOutcome:
        """A merge of `branch` interrupted by a crash is picked up where git left it."""
        state = self._merges.merge_state()
        if state is None or state.branch != branch.removeprefix("refs/heads/"):
            return self._merges.merge(branch)
        if state.stage in _RESUMABLE_STAGES:
            return self._merges.continue_merge()
        status = MergeStatus.parse(state.stage)  # conflict or verify_failed
        return MergeOutcome(status, state.branch, state.task_id, state.target,
                            "waiting for a person since before the restart", conflict=state.conflict)

    async def _record_merged(self, *done: tuple[MergeRecord, str | None]) -> None:
        """Journal the merges as merged (one write for a series), then close their tasks."""
        for merge, commit in done:
            merge.state, merge.commit = MergeStatus.MERGED, commit or await self._ctx.target_commit()
        await self._ctx.save_journal()
        # Closed at once, so the tracker writes them together (one write of the file); said
        # done in the order they merged.
        closing = [asyncio.ensure_future(self._close_task(merge)) for merge, _ in done]
        try:
            for (merge, _), closed in zip(done, closing):
                await closed
                self._ctx.emit(ev.MergeDone(merge.task_id, merge.branch, merge.commit or ""))
        finally:  # stopping: the closes not done yet are left to the next start's recovery
            for closed in closing:
                closed.cancel()
        if done:
            await self._ctx.say_if_fails(done[-1][0].task_id, READ_CHECKOUT, self._say_checkout_elsewhere(),
                                         level="warning")

    async def _close_task(self, merge: MergeRecord) -> None:
        await self._ctx.say_if_fails(merge.task_id, CLOSE_TASK, asyncio.to_thread(
            self._ctx.parts.store.update, merge.task_id, status="closed",
            close_reason=f"merged by orch-tui in {(merge.commit or '')[:12]}"))

    async def _say_checkout_elsewhere(self) -> None:
        note = await asyncio.to_thread(self._merges.checkout_elsewhere_note)
        if note:
            self._ctx.log(note, "warning")

    async def _defer(self, merge: MergeRecord) -> None:
        """A branch that would conflict waits until the other lanes are done and merged."""
        merge.state = MergeStatus.PENDING
        await self._ctx.save_journal()
        try:
            [prediction] = await run_step(PREDICT_MERGE, asyncio.to_thread(self._merges.predict, [merge.branch]))
            files = tuple(prediction.conflicted_files)
        except StepFailed as failure:
            self._ctx.log(str(failure), "warning")
            files = ()
        self._ctx.emit(ev.MergePredicted(merge.task_id, merge.branch, self._merged_count() + 1, files))

    async def _hold_for_check(self, merge: MergeRecord) -> bool:
        """The lane's check failed: wait for a person. True to merge anyway; False when the
        task was sent back to an agent (retry) or dropped. Its work stays on its branch."""
        check = CheckResult.from_dict(merge.check) or CheckResult(False, 0.0, "", "", "failed")
        answer = await self._person.ask_about_check(merge, check)
        merge.check_answer = answer.value
        await self._ctx.save_journal()
        self._ctx.emit(ev.CheckHoldAnswered(merge.task_id, merge.branch, answer))
        if answer is CheckAnswer.MERGE:
            self._ctx.log(f"{merge.task_id}: merging although its lane check failed (a person decided)", "warning")
            return True
        merge.state = MergeStatus.SKIPPED
        await self._ctx.save_journal()
        if answer is CheckAnswer.RETRY:
            self._ctx.choices.follow_ups[merge.task_id] = check.follow_up()
            self._ctx.retry(merge.task_id)
            note = f"orch-tui: lane check failed; sent back to an agent with the failure; work kept on {merge.branch}"
        else:
            self._ctx.hold_back(merge.task_id, "was dropped after its lane check failed")
            note = f"orch-tui: lane check failed; dropped by a person; work kept on {merge.branch}"
        await self._ctx.reopen_task(merge.task_id, merge.task_id, note)
        return False
