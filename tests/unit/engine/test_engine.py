"""The engine end to end: real git, the real Beads JSONL file, the scripted agent."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.agents.scripted import ScriptedRunner
from orch_tui.orchestration.tracker.beads import open_store
from orch_tui.orchestration.commands import EngineState, HunkChoice
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.engine.core import Engine, EngineParts
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.engine.journal import Journal
from orch_tui.orchestration.merging.queue import MergeQueue
from orch_tui.orchestration.lanes.worktrees import WorktreePool
from tests.support.helpers import git
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

QUICK = {"seconds": 0.05}


def edits(*paths: str, **extra: object) -> dict[str, object]:
    """A quick script appending a line naming the task to each path."""
    return {"steps": [{"append": path} for path in paths], "seconds": 0.05, **extra}


def build(repo: Path, lanes_root: Path, **config_changes: object) -> tuple[Engine, list[ev.Event]]:
    config = replace(Config(agent="scripted", worktree_dir=str(lanes_root)), **config_changes)
    parts = EngineParts(repo=repo, config=config, store=open_store(repo, prefer="jsonl"),
                        pool=WorktreePool(repo, config.batch_size, lanes_root),
                        merges=MergeQueue(repo, config), runner=ScriptedRunner(),
                        journal=Journal(repo))
    engine = Engine(parts)
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    return engine, seen


async def run_batches(engine: Engine, limit: int = 10) -> int:
    batches = 0
    while True:
        state = await asyncio.wait_for(engine.wait_until_settled(), 60)
        if state is not EngineState.IDLE or batches >= limit:
            return batches
        await engine.propose()
        if not engine.snapshot().proposal.picked:
            return batches
        await engine.approve()
        batches += 1


async def test_nothing_runs_before_approval(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("t-1", ("a.txt",), script=QUICK)])
    engine, seen = build(repo, tmp_path / "lanes")
    await engine.start()
    try:
        await engine.propose()
        await asyncio.sleep(0.3)
        assert engine.state is EngineState.PROPOSED
        assert not [event for event in seen if isinstance(event, ev.LaneStarted)]
        assert read_statuses(repo)["t-1"] == "open"
        await engine.reject("not now")
        assert engine.state is EngineState.IDLE
        await engine.set_batch_size(3)  # idle: front ends learn it from the event
        assert seen[-1] == ev.BatchSizeChanged(3) and engine.snapshot().batch_size == 3
    finally:
        await engine.close()


async def test_eight_tasks_with_dependencies_finish_in_three_batches(tmp_path: Path) -> None:
    tasks = [TaskSpec(f"t-{n}", (f"src/mod{n}.py",), script=edits(f"src/mod{n}.py")) for n in range(1, 6)]
    tasks += [TaskSpec("t-6", ("src/six.py",), depends_on=("t-1",), script=edits("src/six.py")),
              TaskSpec("t-7", ("src/seven.py",), depends_on=("t-6",), script=edits("src/seven.py")),
              TaskSpec("t-8", ("src/eight.py",), depends_on=("t-2", "t-3"), script=edits("src/eight.py"))]
    repo = make_task_repo(tmp_path / "repo", tasks)
    engine, seen = build(repo, tmp_path / "lanes")
    await engine.start()
    try:
        batches = await run_batches(engine)
    finally:
        await engine.close()
    # batch 1: t-1..t-4 (t-5 waits for a lane); 2: t-5, t-6, t-8; 3: t-7.
    assert batches == 3
    assert set(read_statuses(repo).values()) == {"closed"}
    merged = [event.task_id for event in seen if isinstance(event, ev.MergeDone)]
    assert sorted(merged) == sorted(task.id for task in tasks)
    for task in tasks:
        assert (repo / "src" / Path(task.files[0]).name).exists(), f"{task.id}'s work is on main"
    assert git(repo, "status", "--porcelain", "--", "src") == ""


async def test_failed_agent_reopens_the_task_and_keeps_its_branch(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [
        TaskSpec("t-1", ("a.txt",), script=edits("a.txt", fail="tests fail"))])
    engine, seen = build(repo, tmp_path / "lanes")
    await engine.start()
    try:
        await run_batches(engine, limit=1)
    finally:
        await engine.close()
    finished = [event for event in seen if isinstance(event, ev.LaneFinished)]
    assert finished[0].outcome is ev.LaneOutcome.FAILED and finished[0].reason == "tests fail"
    assert read_statuses(repo)["t-1"] == "open"
    assert "tests fail" in (repo / ".beads" / "issues.jsonl").read_text()
    assert git(repo, "show", "orch/t-1:a.txt"), "the failed attempt's work is kept on its branch"


async def test_hanging_agent_times_out_and_task_is_reopened(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("t-1", ("a.txt",), script=edits("a.txt", hang=True))])
    engine, seen = build(repo, tmp_path / "lanes", agent_timeout_seconds=0.5)
    await engine.start()
    try:
        await run_batches(engine, limit=1)
    finally:
        await engine.close()
    finished = [event for event in seen if isinstance(event, ev.LaneFinished)]
    assert finished[0].outcome is ev.LaneOutcome.TIMED_OUT
    assert read_statuses(repo)["t-1"] == "open"


async def test_conflict_stops_the_queue_and_resumes_after_resolution(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [
        TaskSpec("t-1", ("a.txt",), priority=1, script=edits("a.txt", outside=["shared.txt"])),
        TaskSpec("t-2", ("b.txt",), priority=2, script=edits("b.txt", outside=["shared.txt"]))],
                          files={"shared.txt": "base\n"})
    engine, seen = build(repo, tmp_path / "lanes")
    await engine.start()
    try:
        await engine.propose()
        await engine.approve()
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.WAITING_FOR_PERSON
        conflict = engine.snapshot().conflict
        assert [file.path for file in conflict.files] == ["shared.txt"]
        with pytest.raises(OrchError, match="unresolved"):
            await engine.continue_merge()
        await engine.resolve_file("shared.txt", HunkChoice.BOTH)
        await engine.continue_merge()
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
    finally:
        await engine.close()
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "closed"}
    text = (repo / "shared.txt").read_text()
    assert "t-1" in text and "t-2" in text and "<<<<<<<" not in text
    assert [e for e in seen if isinstance(e, ev.MergeConflict)]


async def test_an_agents_last_edit_outside_its_reservation_still_raises_an_alert(tmp_path: Path) -> None:
    from orch_tui.orchestration.lanes.live_diff import LaneDiffWatcher

    repo = make_task_repo(tmp_path / "repo", [TaskSpec("t-1", ("a.txt",), script={
        "steps": [{"append": "a.txt", "delay": 0.1}, {"append": "stray.txt"}]})])
    engine, seen = build(repo, tmp_path / "lanes")
    engine.parts.watcher_factory = LaneDiffWatcher
    await engine.start()
    try:
        await run_batches(engine, limit=1)
    finally:
        await engine.close()
    alerts = [event for event in seen if isinstance(event, ev.LaneAlert)]
    assert [alert.paths for alert in alerts] == [("stray.txt",)]
    last_diff = [event for event in seen if isinstance(event, ev.LaneDiff)][-1]
    assert set(last_diff.files) == {"a.txt", "stray.txt"}, "the lane shows its final diff"


async def test_a_failed_task_waits_for_a_retry_which_resumes_its_kept_work(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [
        TaskSpec("t-1", ("a.txt",), script=edits("a.txt", fail="tests fail"))])
    engine, seen = build(repo, tmp_path / "lanes")
    await engine.start()
    try:
        assert await run_batches(engine, limit=5) == 1, "a failing task is not proposed forever"
        await engine.propose()
        left_out = {choice.task_id: choice.reason for choice in engine.snapshot().proposal.left_out}
        assert "not proposed again until retried" in left_out["t-1"]
        kept = git(repo, "rev-parse", "orch/t-1")
        await engine.retry_task("t-1")
        await engine.propose()
        assert engine.snapshot().proposal.task_ids == ["t-1"]
        await engine.approve()
        await asyncio.wait_for(engine.wait_until_settled(), 60)
    finally:
        await engine.close()
    history = git(repo, "rev-list", "orch/t-1")
    assert kept in history, "the retry continued on the work the failed attempt kept"
    assert len([e for e in seen if isinstance(e, ev.LaneFinished)]) == 2


async def test_the_proposal_predicts_whether_a_retried_tasks_kept_work_still_merges(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [
        TaskSpec("t-1", ("a.txt",), script=edits("a.txt", fail="tests fail"))], files={"a.txt": "base\n"})
    engine, _ = build(repo, tmp_path / "lanes")
    await engine.start()
    try:
        await run_batches(engine, limit=1)
        (repo / "a.txt").write_text("main changed it\n")  # meanwhile, on main
        git(repo, "commit", "-qam", "main edits a.txt")
        await engine.retry_task("t-1")
        await engine.propose()
        assert engine.snapshot().proposal.predicted_conflicts == {"t-1": ("a.txt",)}
    finally:
        await engine.close()


async def test_lanes_that_end_together_merge_as_one_series_moving_the_target_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first lane to end waits for the others still committing their work: one move of
    the target (one checkout update for the person) instead of one merge, then the rest."""
    from orch_tui.orchestration.engine.wiring import build_engine

    tasks = [TaskSpec(f"t-{n}", (f"src/m{n}.py",), script=edits(f"src/m{n}.py")) for n in (1, 2, 3)]
    repo = make_task_repo(tmp_path / "repo", tasks)
    engine = build_engine(repo, Config(agent="scripted", worktree_dir=str(tmp_path / "lanes"), batch_size=3,
                                       reservations="local"))
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    release = WorktreePool.release

    def slow_release(pool: WorktreePool, lane: int, message: str) -> str | None:
        time.sleep(0.2 if lane == 1 else 0.8)  # lane 1 commits first; 2 and 3 still commit when it is done
        return release(pool, lane, message)

    monkeypatch.setattr(WorktreePool, "release", slow_release)
    moves_before = len(git(repo, "reflog", "show", "--format=%H", "main").splitlines())
    await engine.start()
    try:
        assert await run_batches(engine, limit=1) == 1
        assert engine.state is EngineState.IDLE
    finally:
        await engine.close()
    merges = [event for event in seen if isinstance(event, (ev.MergeStarted, ev.MergeDone))]
    assert [type(event) for event in merges] == [ev.MergeStarted] * 3 + [ev.MergeDone] * 3
    assert len(git(repo, "reflog", "show", "--format=%H", "main").splitlines()) == moves_before + 1
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "closed", "t-3": "closed"}


async def test_the_merge_worktree_is_ready_before_the_first_merge(tmp_path: Path) -> None:
    """Created when the engine starts, beside the lanes: the session's first merge does not
    wait for a checkout of the whole repository."""
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("t-1", ("a.txt",), script=QUICK)])
    engine, seen = build(repo, tmp_path / "lanes")
    await engine.start()
    try:
        assert (tmp_path / "lanes" / "merge" / ".git").is_file()
        assert str(tmp_path / "lanes" / "merge") in git(repo, "worktree", "list")
    finally:
        await engine.close()
