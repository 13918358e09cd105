"""Fault injection: every step of a lane and of a merge made to raise (or hang), and the run
still ends. Real git, the real Beads file, the scripted agent; the fault is put into one real
part at a time, for one task (t-2) only, so the other lanes show the batch goes on.

After each fault: t-2's lane ends exactly once with an outcome naming the step, its task is
reopened in Beads with a note (or merged, where the step only shows something), its work is
on its branch, the target holds only merges, nothing hangs, and the next batch runs it.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest

from orch_tui.orchestration.engine import lane_claims, lanes as lane_supervisor
from orch_tui.orchestration import events as ev
from orch_tui.orchestration.engine import steps
from orch_tui.orchestration.agents.scripted import ScriptedRunner
from orch_tui.orchestration.tracker.beads import open_store
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.engine.core import Engine, EngineParts
from orch_tui.orchestration.engine.journal import Journal
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.lanes.live_diff import LaneDiffWatcher
from orch_tui.orchestration.merging.queue import MergeQueue
from orch_tui.orchestration.lanes.worktrees import WorktreePool
from tests.support.helpers import git
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

SETTLE_SECONDS = 60
FAULTY = "t-2"


class InjectedFault(RuntimeError):
    """Not an OrchError: the kind of exception that used to end a lane unseen."""


def _tasks(**scripts: dict[str, Any]) -> list[TaskSpec]:
    quick = {"seconds": 0.05}
    return [TaskSpec(f"t-{n}", (f"src/f{n}.txt",),
                     script={"steps": [{"append": f"src/f{n}.txt"}], **quick, **scripts.get(f"t-{n}", {})})
            for n in (1, 2, 3)]


def _build(repo: Path, lanes: Path, reservations: Any = None, **config: Any) -> tuple[Engine, list[ev.Event]]:
    settings = replace(Config(agent="scripted", worktree_dir=str(lanes)), **config)
    parts = EngineParts(repo=repo, config=settings, store=open_store(repo, prefer="jsonl"),
                        pool=WorktreePool(repo, settings.batch_size, lanes), merges=MergeQueue(repo, settings),
                        runner=ScriptedRunner(), journal=Journal(repo), reservations=reservations,
                        watcher_factory=LaneDiffWatcher)
    engine = Engine(parts)
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    return engine, seen


async def _one_batch(engine: Engine) -> EngineState:
    await engine.propose()
    await engine.approve()
    return await asyncio.wait_for(engine.wait_until_settled(), SETTLE_SECONDS)


def _finished(seen: list[ev.Event], task_id: str) -> list[ev.LaneFinished]:
    return [e for e in seen if isinstance(e, ev.LaneFinished) and e.task_id == task_id]


def _notes(repo: Path, task_id: str) -> str:
    for line in (repo / ".beads" / "issues.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["id"] == task_id:
            return record.get("notes", "")
    raise AssertionError(f"{task_id} not in the tracker")


def _only_for(task_id: str, original: Callable[..., Any], fault: Callable[..., Any],
              pick: Callable[..., bool] | None = None) -> Callable[..., Any]:
    """`original`, except for calls `pick` chooses (default: calls naming `task_id`)."""
    def chosen(*args: Any, **kwargs: Any) -> bool:
        named = re.compile(rf"(?<![\w-]){re.escape(task_id)}(?![\w-])")  # not inside "pytest-212"
        return pick(*args, **kwargs) if pick else any(named.search(str(arg)) for arg in (*args, *kwargs.values()))

    def patched(*args: Any, **kwargs: Any) -> Any:
        return fault(*args, **kwargs) if chosen(*args, **kwargs) else original(*args, **kwargs)
    return patched


def _raise(*_: Any, **__: Any) -> Any:
    raise InjectedFault("injected fault")


def _raise_called_process_error(*_: Any, **__: Any) -> Any:
    raise subprocess.CalledProcessError(128, ["git", "commit-tree"], stderr="fatal: injected")


async def _assert_ends_and_recovers(engine: Engine, seen: list[ev.Event], repo: Path, step: steps.Step,
                                    undo: Callable[[], None], cause: str = "injected fault") -> None:
    """t-2 failed naming `step` and was reopened; the others merged; the next batch runs t-2."""
    state = await _one_batch(engine)
    assert state is EngineState.IDLE
    [finished] = _finished(seen, FAULTY)
    assert finished.outcome is ev.LaneOutcome.FAILED
    assert step.name in finished.reason and cause in finished.reason
    assert step.fix in finished.reason
    statuses = read_statuses(repo)
    assert statuses == {"t-1": "closed", FAULTY: "open", "t-3": "closed"}
    assert step.name in _notes(repo, FAULTY)
    assert not git(repo, "status", "--porcelain", "--", ".", ":!.beads")  # the person's checkout
    undo()
    await engine.retry_task(FAULTY)
    assert await _one_batch(engine) is EngineState.IDLE
    assert read_statuses(repo)[FAULTY] == "closed"
    assert "t-2" in git(repo, "show", "main:src/f2.txt")


@pytest.mark.parametrize("part, method, step, fault", [
    ("pool", "assign", steps.ASSIGN_WORKTREE, _raise),
    ("runner", "run", steps.RUN_AGENT, _raise),
    ("pool", "release", steps.COMMIT_LEFTOVERS, _raise),
])
async def test_a_lane_step_that_raises_ends_the_lane_naming_it(
        tmp_path: Path, part: str, method: str, step: steps.Step, fault: Callable[..., Any]) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")
    target = getattr(engine.parts, part)
    original = getattr(target, method)
    if method == "release":  # release(lane, message): the message names the task
        setattr(target, method, _only_for(FAULTY, original, fault))
    elif method == "run":  # run(request, sink)
        setattr(target, method, _only_for(FAULTY, original, _async(fault),
                                          pick=lambda request, sink: request.task.id == FAULTY))
    else:
        setattr(target, method, _only_for(FAULTY, original, fault))
    await engine.start()
    try:
        await _assert_ends_and_recovers(engine, seen, repo, step, lambda: setattr(target, method, original))
    finally:
        await engine.close()


def _async(fault: Callable[..., Any]) -> Callable[..., Any]:
    async def raising(*args: Any, **kwargs: Any) -> Any:
        return fault(*args, **kwargs)
    return raising


async def test_the_tracker_update_at_start_failing_ends_the_lane(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")
    store = engine.parts.store
    original = store.update
    store.update = _only_for(FAULTY, original, _raise,  # type: ignore[method-assign]
                             pick=lambda task_id, **kw: task_id == FAULTY and kw.get("status") == "in_progress")
    await engine.start()
    try:
        await _assert_ends_and_recovers(engine, seen, repo, steps.MARK_IN_PROGRESS,
                                        lambda: setattr(store, "update", original))
    finally:
        await engine.close()


async def test_the_tracker_guard_failing_keeps_the_work_and_fails_the_lane(tmp_path: Path, monkeypatch) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")
    original = lane_supervisor.drop_tracker_changes
    monkeypatch.setattr(lane_supervisor, "drop_tracker_changes",
                        _only_for(FAULTY, original, _raise_called_process_error))
    await engine.start()
    try:
        state = await _one_batch(engine)
        assert state is EngineState.IDLE
        [finished] = _finished(seen, FAULTY)
        assert finished.outcome is ev.LaneOutcome.FAILED
        assert steps.DROP_TRACKER_EDITS.name in finished.reason and "fatal: injected" in finished.reason
        assert "t-2" in git(repo, "show", "orch/t-2:src/f2.txt")  # the work is on its branch
        assert read_statuses(repo) == {"t-1": "closed", FAULTY: "open", "t-3": "closed"}
        monkeypatch.setattr(lane_supervisor, "drop_tracker_changes", original)
        await engine.retry_task(FAULTY)
        assert await _one_batch(engine) is EngineState.IDLE
        assert read_statuses(repo)[FAULTY] == "closed"
    finally:
        await engine.close()


async def test_an_agent_that_hangs_ends_at_its_timeout(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks(**{FAULTY: {"hang": True}}))
    engine, seen = _build(repo, tmp_path / "lanes", agent_timeout_seconds=1.0)
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.IDLE
        [finished] = _finished(seen, FAULTY)
        assert finished.outcome is ev.LaneOutcome.TIMED_OUT and "1 s" in finished.reason
        assert read_statuses(repo) == {"t-1": "closed", FAULTY: "open", "t-3": "closed"}
    finally:
        await engine.close()


async def test_a_live_diff_that_fails_is_said_and_the_lane_goes_on(tmp_path: Path, monkeypatch) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")
    original_run = LaneDiffWatcher.run

    async def failing_run(self: LaneDiffWatcher) -> None:
        if self.task_id == FAULTY:
            raise InjectedFault("injected fault")
        await original_run(self)
    monkeypatch.setattr(LaneDiffWatcher, "run", failing_run)
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.IDLE
        [finished] = _finished(seen, FAULTY)
        assert finished.outcome is ev.LaneOutcome.SUCCEEDED  # a view failing costs no work
        warnings = [e.text for e in seen if isinstance(e, ev.LogLine) and e.level == "warning"]
        assert any(steps.LIVE_DIFF.name in text and "goes on without a live diff" in text for text in warnings)
        assert set(read_statuses(repo).values()) == {"closed"}
    finally:
        await engine.close()


async def test_reopening_a_failed_task_that_fails_is_an_error_on_screen_and_the_lane_still_ends(
        tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks(**{FAULTY: {"fail": "tests do not pass"}}))
    engine, seen = _build(repo, tmp_path / "lanes")
    store = engine.parts.store
    store.update = _only_for(FAULTY, store.update, _raise,  # type: ignore[method-assign]
                             pick=lambda task_id, **kw: task_id == FAULTY and kw.get("status") == "open")
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.IDLE
        [finished] = _finished(seen, FAULTY)
        assert finished.outcome is ev.LaneOutcome.FAILED and "tests do not pass" in finished.reason
        errors = [e.message for e in seen if isinstance(e, ev.ErrorRaised)]
        assert any(steps.REOPEN_TASK.name in message for message in errors)
        assert read_statuses(repo)["t-1"] == read_statuses(repo)["t-3"] == "closed"
    finally:
        await engine.close()


async def test_the_agent_failing_to_start_stops_the_engine_start_naming_the_step(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, _ = _build(repo, tmp_path / "lanes")
    engine.parts.runner.start = _async(_raise)  # type: ignore[method-assign]
    with pytest.raises(steps.StepFailed, match=steps.START_AGENT.name):
        await engine.start()
    await engine.close()


async def test_an_engine_fault_outside_every_step_still_ends_the_lane(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")
    original = engine._lanes._agent_request

    def broken(lane: int, task: Any, *rest: Any) -> Any:
        if task.id == FAULTY:
            raise InjectedFault("a bug in the engine")
        return original(lane, task, *rest)
    engine._lanes._agent_request = broken  # type: ignore[method-assign]
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.IDLE
        [finished] = _finished(seen, FAULTY)
        assert finished.outcome is ev.LaneOutcome.FAILED and "unexpected error in the engine" in finished.reason
        assert read_statuses(repo) == {"t-1": "closed", FAULTY: "open", "t-3": "closed"}
    finally:
        await engine.close()


# ----- merges ------------------------------------------------------------------------------
async def test_a_merge_that_raises_waits_for_a_person_and_continue_retries_it(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")
    queue = engine.parts.merges
    calls: list[str] = []
    original = queue.merge_if_clean

    def failing_once(branch: str) -> Any:
        calls.append(branch)
        if branch.endswith(FAULTY) and calls.count(branch) == 1:
            raise InjectedFault("injected fault")
        return original(branch)
    queue.merge_if_clean = failing_once  # type: ignore[method-assign]
    queue.merge_series_if_clean = lambda branches: []  # type: ignore[method-assign]  # one at a time
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.WAITING_FOR_PERSON
        [stopped] = [e for e in seen if isinstance(e, ev.MergeCheckFailed)]
        assert stopped.task_id == FAULTY and steps.MERGE_BRANCH.name in stopped.output
        assert steps.MERGE_BRANCH.fix in stopped.output
        target_before = git(repo, "rev-parse", "main")
        await engine.continue_merge()
        assert await asyncio.wait_for(engine.wait_until_settled(), SETTLE_SECONDS) is EngineState.IDLE
        assert set(read_statuses(repo).values()) == {"closed"}
        assert git(repo, "rev-parse", "main") != target_before
    finally:
        await engine.close()


async def test_a_merge_that_raises_can_be_aborted_and_the_task_is_reopened(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")
    queue = engine.parts.merges
    queue.merge_if_clean = _only_for(FAULTY, queue.merge_if_clean, _raise)  # type: ignore[method-assign]
    queue.merge = _only_for(FAULTY, queue.merge, _raise)  # type: ignore[method-assign]
    queue.merge_series_if_clean = lambda branches: []  # type: ignore[method-assign]
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.WAITING_FOR_PERSON
        await engine.continue_merge()  # still failing: it waits again, saying so again
        assert await asyncio.wait_for(engine.wait_until_settled(), SETTLE_SECONDS) is EngineState.WAITING_FOR_PERSON
        assert len([e for e in seen if isinstance(e, ev.MergeCheckFailed)]) == 2
        await engine.abort_merge()
        assert await asyncio.wait_for(engine.wait_until_settled(), SETTLE_SECONDS) is EngineState.IDLE
        assert read_statuses(repo) == {"t-1": "closed", FAULTY: "open", "t-3": "closed"}
        assert "merge aborted" in _notes(repo, FAULTY)
        assert "t-2" in git(repo, "show", "orch/t-2:src/f2.txt")
    finally:
        await engine.close()


@pytest.mark.parametrize(("part", "method"), [("merger", "verify_and_advance"), ("advancer", "advance")])
async def test_verifying_or_advancing_that_raises_stops_the_queue_for_a_person(
        tmp_path: Path, part: str, method: str) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes", verify_command=("true",))
    queue = getattr(engine.parts.merges, part)
    original = getattr(queue, method)
    failures = iter([True])

    def failing_once(state: Any, *rest: Any) -> Any:
        if state.branch.endswith(FAULTY) and next(failures, False):
            raise InjectedFault("injected fault")
        return original(state, *rest)
    setattr(queue, method, failing_once)
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.WAITING_FOR_PERSON
        [stopped] = [e for e in seen if isinstance(e, ev.MergeCheckFailed)]
        assert stopped.task_id == FAULTY and "injected fault" in stopped.output
        assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "main")  # never half-moved
        await engine.continue_merge()
        assert await asyncio.wait_for(engine.wait_until_settled(), SETTLE_SECONDS) is EngineState.IDLE
        assert set(read_statuses(repo).values()) == {"closed"}
        assert not git(repo, "status", "--porcelain", "--", ".", ":!.beads")
    finally:
        await engine.close()


async def test_predicting_that_raises_is_said_and_the_merges_go_on(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes", verify_command=("true",))  # every merge waits for the end
    queue = engine.parts.merges
    queue.merge_if_clean = lambda branch: None  # type: ignore[method-assign]  # all deferred to the end
    queue.predict = _raise  # type: ignore[method-assign]
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.IDLE
        warnings = [e.text for e in seen if isinstance(e, ev.LogLine) and e.level == "warning"]
        assert any(steps.PREDICT_MERGE.name in text for text in warnings)
        assert set(read_statuses(repo).values()) == {"closed"}
    finally:
        await engine.close()


async def test_closing_a_merged_task_that_fails_is_an_error_and_the_batch_goes_on(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")
    store = engine.parts.store
    store.update = _only_for(FAULTY, store.update, _raise,  # type: ignore[method-assign]
                             pick=lambda task_id, **kw: task_id == FAULTY and kw.get("status") == "closed")
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.IDLE
        assert "t-2" in git(repo, "show", "main:src/f2.txt")  # merged: git is the truth
        errors = [e.message for e in seen if isinstance(e, ev.ErrorRaised)]
        assert any(steps.CLOSE_TASK.name in message for message in errors)
        assert [e.task_id for e in seen if isinstance(e, ev.MergeDone)].count(FAULTY) == 1
    finally:
        await engine.close()


# ----- reservations, with the real Agent Mail server -----------------------------------------
@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.support.agent_mail_server import running_agent_mail
    from tests.support.helpers import agent_mail_python
    agent_mail_python()
    with running_agent_mail(tmp_path_factory.mktemp("mail")) as server:
        yield server


def _build_with_mail(repo: Path, lanes: Path, url: str) -> tuple[Engine, list[ev.Event]]:
    from orch_tui.orchestration.engine.wiring import build_engine
    engine = build_engine(repo, Config(agent="scripted", worktree_dir=str(lanes), agent_mail_url=url))
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    return engine, seen


async def _hang(*_: Any, **__: Any) -> Any:
    await asyncio.sleep(3600)


def _lane_of(seen: list[ev.Event], task_id: str) -> int:
    return next(e.lane for e in seen if isinstance(e, ev.LaneStarted) and e.task_id == task_id)


@pytest.mark.slow
@pytest.mark.agent_mail
async def test_a_claim_that_raises_ends_the_lane_and_gives_everything_back(tmp_path: Path, mail_server: Any) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build_with_mail(repo, tmp_path / "lanes", mail_server.url)
    manager = engine.parts.reservations
    original = manager.claim

    async def claim(lane: int, task_id: str, patterns: Any) -> Any:
        if task_id == FAULTY:
            raise InjectedFault("injected fault")
        return await original(lane, task_id, patterns)
    manager.claim = claim
    await engine.start()
    try:
        assert engine.snapshot().mode is ev.Mode.PARALLEL
        await _assert_ends_and_recovers(engine, seen, repo, steps.CLAIM_FILES, lambda: setattr(manager, "claim", original))
    finally:
        await engine.close()


@pytest.mark.slow
@pytest.mark.agent_mail
@pytest.mark.parametrize("fault, cause", [(_async(_raise), "injected fault"), (_hang, "no answer within 1 s")],
                         ids=["raises", "hangs"])
async def test_a_confirmation_that_fails_or_hangs_ends_the_lane(tmp_path: Path, mail_server: Any, monkeypatch,
                                                                 fault: Callable[..., Any], cause: str) -> None:
    monkeypatch.setattr(lane_claims, "SERVER_STEP_TIMEOUT_SECONDS", 1.0)
    repo = make_task_repo(tmp_path / "repo", _tasks(**{FAULTY: {"seconds": 3.0}}))
    engine, seen = _build_with_mail(repo, tmp_path / "lanes", mail_server.url)
    manager = engine.parts.reservations
    original = manager.confirm
    claimed: dict[int, str] = {}
    original_claim = manager.claim

    async def claim(lane: int, task_id: str, patterns: Any) -> Any:
        claimed[lane] = task_id
        return await original_claim(lane, task_id, patterns)

    async def confirm(lane: int) -> Any:
        return await (fault(lane) if claimed.get(lane) == FAULTY else original(lane))
    manager.claim, manager.confirm = claim, confirm
    await engine.start()
    try:
        await _assert_ends_and_recovers(engine, seen, repo, steps.CONFIRM_CLAIM,
                                        lambda: setattr(manager, "confirm", original), cause)
        assert engine.snapshot().mode is ev.Mode.PARALLEL
    finally:
        await engine.close()


@pytest.mark.slow
@pytest.mark.agent_mail
@pytest.mark.parametrize("fault", [_async(_raise), _hang], ids=["raises", "hangs"])
async def test_giving_back_reservations_that_fails_or_hangs_is_said_and_the_lane_merges(
        tmp_path: Path, mail_server: Any, monkeypatch, fault: Callable[..., Any]) -> None:
    monkeypatch.setattr(lane_claims, "SERVER_STEP_TIMEOUT_SECONDS", 1.0)
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build_with_mail(repo, tmp_path / "lanes", mail_server.url)
    await engine.start()
    manager = engine.parts.reservations.chosen  # Agent Mail's manager, chosen by `auto` at start
    original = manager.client.release_reservations

    async def release_reservations(arguments: Any) -> Any:
        if arguments["agent_name"] == manager.agent_name(_lane_of(seen, FAULTY)):
            return await fault()
        return await original(arguments)
    manager.client.release_reservations = release_reservations
    try:
        assert await _one_batch(engine) is EngineState.IDLE
        warnings = [e.text for e in seen if isinstance(e, ev.LogLine) and e.level == "warning"]
        assert any(steps.RELEASE_FILES.name in text for text in warnings)
        assert set(read_statuses(repo).values()) == {"closed"}
        assert [e.outcome for e in _finished(seen, FAULTY)] == [ev.LaneOutcome.SUCCEEDED]
    finally:
        await engine.close()


# ----- the engine's background tasks ----------------------------------------------------------
async def test_a_reservation_monitor_that_dies_is_reported_and_lanes_go_one_at_a_time(tmp_path: Path) -> None:
    from orch_tui.orchestration.engine.wiring import build_engine
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine = build_engine(repo, Config(agent="scripted", worktree_dir=str(tmp_path / "lanes"), reservations="local"))
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)

    async def dying_monitor(*_: Any, **__: Any) -> None:
        raise InjectedFault("injected fault")
    engine.parts.reservations.run_monitor = dying_monitor
    await engine.start()
    try:
        await asyncio.sleep(0.1)
        errors = [e.message for e in seen if isinstance(e, ev.ErrorRaised)]
        assert any("reservation monitor stopped" in message and "injected fault" in message for message in errors)
        assert engine.snapshot().mode is ev.Mode.SEQUENTIAL
        assert await _one_batch(engine) is EngineState.IDLE  # the batch still runs, one lane at a time
        assert set(read_statuses(repo).values()) == {"closed"}
        waiting = [e for e in seen if isinstance(e, ev.LaneProgress) and e.status == "waiting"]
        assert waiting and all("reservation monitor stopped" in e.action for e in waiting)
    finally:
        await engine.close()


async def test_a_merger_that_dies_stops_the_batch_for_a_person_and_the_next_start_goes_on(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    engine, seen = _build(repo, tmp_path / "lanes")

    async def dying_merger(batch: Any) -> None:
        raise InjectedFault("injected fault")
    engine._merges.merge_while_running = dying_merger  # type: ignore[method-assign]
    await engine.start()
    try:
        assert await _one_batch(engine) is EngineState.WAITING_FOR_PERSON
        errors = [e.message for e in seen if isinstance(e, ev.ErrorRaised)]
        assert any(message.startswith("batch stopped: InjectedFault: injected fault") for message in errors)
        with pytest.raises(OrchError, match="no merge is waiting for a person"):
            await engine.continue_merge()  # nothing to continue: the restart below goes on
    finally:
        await engine.close()
    again, _ = _build(repo, tmp_path / "lanes")  # a restart resumes the batch from the journal
    await again.start()
    try:
        assert await asyncio.wait_for(again.wait_until_settled(), SETTLE_SECONDS) is EngineState.IDLE
        assert set(read_statuses(repo).values()) == {"closed"}
    finally:
        await again.close()
