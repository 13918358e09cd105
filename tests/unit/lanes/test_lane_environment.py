"""Lane environments on real repositories: setup (and when it is skipped), copied files,
ports, and the lane check that holds a merge for a person."""

from __future__ import annotations

import asyncio
import socket
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.agents.base import AgentRequest, AgentResult
from orch_tui.orchestration.agents.scripted import ScriptedRunner
from orch_tui.orchestration.tracker.beads import open_store
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.engine.core import Engine, EngineParts
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import EventSink
from orch_tui.orchestration.engine.journal import Journal
from orch_tui.orchestration.lane_check import CheckAnswer
from orch_tui.orchestration.lanes.environment import LaneEnvironments
from orch_tui.orchestration.lanes.ports import PortLeases, port_is_free
from orch_tui.orchestration.merging.queue import MergeQueue
from orch_tui.orchestration.lanes.worktrees import WorktreePool
from tests.support.helpers import git
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

PY = sys.executable
IGNORES = ".gitignore", ".setup-runs\n.env\n.lane-ports\n"
# Setup appends "<task> <first port>" to an ignored file, so a test counts its runs.
RECORD_SETUP = [PY, "-c", "import os; open('.setup-runs', 'a').write("
                "os.environ['ORCH_TASK_ID'] + ' ' + os.environ.get('ORCH_PORT', '-') + '\\n')"]
FAIL_IF_BROKEN = [PY, "-c", "import os, sys; broken = os.path.exists('broken.txt'); "
                  "print('FAIL: broken.txt must not exist' if broken else 'all good'); sys.exit(1 if broken else 0)"]


def quick(*paths: str) -> dict[str, object]:
    return {"steps": [{"append": path} for path in paths], "seconds": 0.05}


class RecordingRunner(ScriptedRunner):
    """The scripted agent, remembering what each lane was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[AgentRequest] = []

    async def run(self, request: AgentRequest, sink: EventSink) -> AgentResult:
        self.requests.append(request)
        return await super().run(request, sink)


def build(repo: Path, lanes_root: Path, runner: ScriptedRunner | None = None,
          **config_changes: object) -> tuple[Engine, list[ev.Event]]:
    config = replace(Config(agent="scripted", worktree_dir=str(lanes_root), batch_size=2), **config_changes)
    parts = EngineParts(repo=repo, config=config, store=open_store(repo, prefer="jsonl"),
                        pool=WorktreePool(repo, config.batch_size, lanes_root),
                        merges=MergeQueue(repo, config), runner=runner or ScriptedRunner(),
                        journal=Journal(repo))
    engine = Engine(parts)
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    return engine, seen


async def run_one_batch(engine: Engine) -> EngineState:
    await engine.propose()
    await engine.approve()
    return await asyncio.wait_for(engine.wait_until_settled(), 60)


def finished(seen: list[ev.Event]) -> dict[str, ev.LaneFinished]:
    return {event.task_id: event for event in seen if isinstance(event, ev.LaneFinished)}


# ----- setup ----------------------------------------------------------------------------------
async def test_setup_runs_for_a_new_lane_and_is_skipped_when_its_inputs_did_not_change(tmp_path: Path) -> None:
    tasks = [TaskSpec("t-1", ("a.txt",), script=quick("a.txt")),
             TaskSpec("t-2", ("b.txt",), depends_on=("t-1",), script=quick("b.txt")),
             TaskSpec("t-3", ("uv.lock",), depends_on=("t-2",), script=quick("uv.lock")),
             TaskSpec("t-4", ("c.txt",), depends_on=("t-3",), script=quick("c.txt"))]
    repo = make_task_repo(tmp_path / "repo", tasks, {"uv.lock": "v1\n", ".gitignore": IGNORES[1]})
    engine, seen = build(repo, tmp_path / "lanes", lane_setup_command=tuple(RECORD_SETUP),
                         lane_setup_when_changed=("uv.lock",))
    await engine.start()
    try:
        for _ in tasks:
            assert await run_one_batch(engine) is EngineState.IDLE
    finally:
        await engine.close()
    setups = [event.setup for event in seen if isinstance(event, ev.LaneEnvironmentReady)]
    # t-1: a new lane; t-2 and t-3: warm, uv.lock unchanged; t-4: t-3 changed uv.lock.
    assert setups[0].startswith("ran in") and setups[3].startswith("ran in")
    assert setups[1:3] == ["skipped: uv.lock unchanged"] * 2
    runs = (tmp_path / "lanes" / "lane-1" / ".setup-runs").read_text().split()
    assert runs[0::2] == ["t-1", "t-4"]
    assert all(status == "closed" for status in read_statuses(repo).values())


async def test_a_failing_setup_fails_only_its_lane_with_its_output(tmp_path: Path) -> None:
    tasks = [TaskSpec("t-1", ("a.txt",), script=quick("a.txt")),
             TaskSpec("t-2", ("b.txt",), script=quick("b.txt"))]
    repo = make_task_repo(tmp_path / "repo", tasks, {".gitignore": IGNORES[1]})
    setup = [PY, "-c", "import os, sys; task = os.environ['ORCH_TASK_ID']; "
             "print('installing for', task); "
             "sys.exit(f'cannot install the dependencies of {task}' if task == 't-2' else 0)"]
    engine, seen = build(repo, tmp_path / "lanes", lane_setup_command=tuple(setup))
    await engine.start()
    try:
        assert await run_one_batch(engine) is EngineState.IDLE
    finally:
        await engine.close()
    outcomes = finished(seen)
    assert outcomes["t-1"].outcome is ev.LaneOutcome.SUCCEEDED
    failed = outcomes["t-2"]
    assert failed.outcome is ev.LaneOutcome.FAILED
    assert "lane setup exited with status 1" in failed.reason
    assert "cannot install the dependencies of t-2" in failed.reason and "kept for inspection" in failed.reason
    statuses = read_statuses(repo)
    assert statuses == {"t-1": "closed", "t-2": "open"}
    lane = next(event.worktree for event in seen if isinstance(event, ev.LaneStarted) and event.task_id == "t-2")
    assert Path(lane).is_dir()
    # The setup's progress reached the lane panel as it ran.
    assert any(isinstance(event, ev.LaneProgress) and event.status == "setup" and "installing for t-2" in event.action
               for event in seen)


# ----- copied files ---------------------------------------------------------------------------
async def test_copied_files_reach_the_lane_and_a_tracked_one_is_refused(tmp_path: Path) -> None:
    tasks = [TaskSpec("t-1", ("a.txt",), script=quick("a.txt"))]
    repo = make_task_repo(tmp_path / "repo", tasks, {".gitignore": IGNORES[1], "settings.toml": "x = 1\n"})
    (repo / ".env").write_text("SECRET=s3cret\n")
    engine, seen = build(repo, tmp_path / "lanes", lane_copy=(".env", "settings.toml"))
    await engine.start()
    try:
        assert await run_one_batch(engine) is EngineState.IDLE
    finally:
        await engine.close()
    failed = finished(seen)["t-1"]
    assert failed.outcome is ev.LaneOutcome.FAILED
    assert "settings.toml is not ignored by git" in failed.reason and ".gitignore" in failed.reason


# ----- ports ----------------------------------------------------------------------------------
def test_two_lanes_never_share_a_port_and_a_port_in_use_is_skipped() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        leases = PortLeases(base=taken, count=3)
        first = leases.lease(1)
        assert taken not in first.ports and len(first.ports) == 3
        second = leases.lease(2)
        assert not set(first.ports) & set(second.ports)
        assert first.env()["ORCH_PORT"] == str(first.ports[0])
        assert second.env()["ORCH_PORTS"] == ",".join(map(str, second.ports))
        leases.release(1)
        assert set(leases.held()) == {2}
        assert not port_is_free(taken)


async def test_lanes_prepared_at_once_never_share_a_port(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [], {".gitignore": IGNORES[1]})
    pool = WorktreePool(repo, 3, tmp_path / "lanes")
    pool.ensure()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        environments = LaneEnvironments(repo, Config(lane_ports=4, lane_port_base=taken))
        prepared = await asyncio.gather(*(environments.prepare(lane, f"t-{lane}", pool.lane_path(lane),
                                                                lambda event: None) for lane in (1, 2, 3)))
    ports = [set(item.ports.ports) for item in prepared]
    assert all(len(block) == 4 and taken not in block for block in ports)
    assert not (ports[0] & ports[1] or ports[0] & ports[2] or ports[1] & ports[2])
    assert [item.env["ORCH_LANE"] for item in prepared] == ["1", "2", "3"]


async def test_lanes_of_one_batch_get_their_own_ports(tmp_path: Path) -> None:
    tasks = [TaskSpec("t-1", ("a.txt",), script=quick("a.txt")),
             TaskSpec("t-2", ("b.txt",), script=quick("b.txt"))]
    repo = make_task_repo(tmp_path / "repo", tasks, {".gitignore": IGNORES[1]})
    runner = RecordingRunner()
    engine, seen = build(repo, tmp_path / "lanes", runner, lane_setup_command=tuple(RECORD_SETUP),
                         lane_ports=5, lane_port_base=43100)
    await engine.start()
    try:
        assert await run_one_batch(engine) is EngineState.IDLE
    finally:
        await engine.close()
    ready = [event for event in seen if isinstance(event, ev.LaneEnvironmentReady)]
    assert len(ready) == 2 and all(len(event.ports) == 5 for event in ready)
    # The agent got the same ports as its setup.
    for request in runner.requests:
        event = next(item for item in ready if item.lane == request.lane)
        assert request.env["ORCH_PORT"] == str(event.ports[0])
        assert request.env["ORCH_TASK_ID"] == request.task.id and request.env["ORCH_LANE"] == str(request.lane)
    assert engine._lanes.environments.ports.held() == {}  # given back with the lanes


# ----- the lane check -------------------------------------------------------------------------
def _check_repo(tmp_path: Path) -> Path:
    tasks = [TaskSpec("t-1", ("a.txt",), script=quick("a.txt")),
             TaskSpec("t-2", ("broken.txt",), script=quick("broken.txt"))]
    return make_task_repo(tmp_path / "repo", tasks, {".gitignore": IGNORES[1]})


async def _held(tmp_path: Path, runner: ScriptedRunner | None = None) -> tuple[Path, Engine, list[ev.Event]]:
    repo = _check_repo(tmp_path)
    engine, seen = build(repo, tmp_path / "lanes", runner, lane_check_command=tuple(FAIL_IF_BROKEN))
    await engine.start()
    assert await run_one_batch(engine) is EngineState.WAITING_FOR_PERSON
    return repo, engine, seen


async def test_a_failing_check_holds_the_merge_and_merge_anyway_merges_it(tmp_path: Path) -> None:
    repo, engine, seen = await _held(tmp_path)
    try:
        checks = {event.task_id: event.check for event in seen if isinstance(event, ev.LaneCheckFinished)}
        assert checks["t-1"].passed and not checks["t-2"].passed
        assert "FAIL: broken.txt must not exist" in checks["t-2"].output_tail
        snapshot = engine.snapshot()
        assert snapshot.held is not None and snapshot.held.task_id == "t-2"
        assert [(m.task_id, m.state) for m in snapshot.merges] == [("t-1", "merged"), ("t-2", "held")]
        assert next(m for m in snapshot.merges if m.task_id == "t-2").check == checks["t-2"]
        journal = Journal(repo).load()
        assert journal is not None and journal.merge_record("t-2").state == "held"
        assert journal.merge_record("t-2").check["passed"] is False
        with pytest.raises(OrchError, match="t-2, not t-1"):
            await engine.answer_check("t-1", CheckAnswer.MERGE)
        await engine.answer_check("t-2", CheckAnswer.MERGE)
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
    finally:
        await engine.close()
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "closed"}
    assert "broken.txt" in git(repo, "ls-tree", "--name-only", "main")


async def test_drop_after_a_failed_check_keeps_the_work_off_main(tmp_path: Path) -> None:
    repo, engine, seen = await _held(tmp_path)
    try:
        await engine.answer_check("t-2", CheckAnswer.DROP)
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
        await engine.propose()
        assert not engine.snapshot().proposal.picked  # dropped: not proposed again until retried
    finally:
        await engine.close()
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "open"}
    assert "broken.txt" not in git(repo, "ls-tree", "--name-only", "main")
    assert "broken.txt" in git(repo, "ls-tree", "--name-only", "orch/t-2")  # the work is kept


async def test_continue_is_refused_while_a_check_holds_the_merge_and_abort_drops_it(tmp_path: Path) -> None:
    repo, engine, seen = await _held(tmp_path)
    try:
        with pytest.raises(OrchError, match="t-2 is held for its failed lane check: merge it anyway, retry or drop"):
            await engine.continue_merge()  # nothing of git's to continue: the person must choose
        assert engine.state is EngineState.WAITING_FOR_PERSON
        await engine.abort_merge()
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
        assert [e.answer for e in seen if isinstance(e, ev.CheckHoldAnswered)] == ["drop"]
    finally:
        await engine.close()
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "open"}


async def test_retry_after_a_failed_check_gives_the_agent_the_failure(tmp_path: Path) -> None:
    runner = RecordingRunner()
    repo, engine, seen = await _held(tmp_path, runner)
    try:
        await engine.answer_check("t-2", CheckAnswer.RETRY)
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
        assert read_statuses(repo)["t-2"] == "open"
        await engine.propose()
        proposal = engine.snapshot().proposal
        assert [choice.task_id for choice in proposal.picked] == ["t-2"]
        assert not engine.snapshot().checks["t-2"].passed  # the approval shows the last check
        await engine.approve()
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.WAITING_FOR_PERSON
        again = runner.requests[-1]
        assert again.task.id == "t-2" and "FAIL: broken.txt must not exist" in again.follow_up
        await engine.answer_check("t-2", CheckAnswer.DROP)
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
    finally:
        await engine.close()
    assert "broken.txt" not in git(repo, "ls-tree", "--name-only", "main")


# ----- through `orch-tui run` ------------------------------------------------------------------
AGENT = """\
import os, pathlib
env = pathlib.Path(".env").read_text() if pathlib.Path(".env").exists() else ""
name = "out-" + os.environ["ORCH_TASK_ID"] + ".txt"
pathlib.Path(name).write_text(f"env copied: {'SECRET=' in env}; port {os.environ.get('ORCH_PORT')}\\n")
print("wrote", name)
"""
CHECK = ("import os, pathlib, sys; task = os.environ['ORCH_TASK_ID']; "
         "text = pathlib.Path('out-' + task + '.txt').read_text(); print(text.strip()); "
         "sys.exit('test_orders failed: expected 3 orders, got 2' if task == 't-2' else 0)")


@pytest.mark.slow
def test_orch_tui_run_with_setup_copy_and_check(tmp_path: Path) -> None:
    import json
    import os
    import subprocess

    tasks = [TaskSpec("t-1", ("out-t-1.txt",)), TaskSpec("t-2", ("out-t-2.txt",))]
    repo = make_task_repo(tmp_path / "repo", tasks, {".gitignore": IGNORES[1] + ".orch-tui.toml\n"})
    (repo / ".env").write_text("SECRET=s3cret\n")
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    lanes = tmp_path / "lanes"
    settings = {"agent": "command", "agent_command": [PY, str(agent)], "worktree_dir": str(lanes),
                "agent_mail_url": "http://127.0.0.1:9/mcp/", "batch_size": 2,
                "lane_setup_command": RECORD_SETUP, "lane_copy": [".env"],
                "lane_check_command": [PY, "-c", CHECK]}
    (repo / ".orch-tui.toml").write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run([PY, "-m", "orch_tui.app", "run", "--repo", str(repo), "--yes"],
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "NO_COLOR": "1", "HOME": str(home)})
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert "t-1 check passed" in out
    assert "t-2 check FAILED" in out and "test_orders failed: expected 3 orders, got 2" in out
    assert "The merge of t-2 is held: its lane check failed" in out
    assert "copied .env" in out and "setup ran in" in out
    # The agent read the copied file; the copy itself never reached a commit.
    assert git(repo, "show", "main:out-t-1.txt").startswith("env copied: True; port 4")
    assert git(repo, "log", "--all", "--format=%H", "--", ".env") == ""
    assert (lanes / "lane-1" / ".env").read_text() == "SECRET=s3cret\n"
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "in_progress"}


async def test_a_held_merge_is_held_again_after_a_restart(tmp_path: Path) -> None:
    repo, engine, seen = await _held(tmp_path)
    await engine.close()
    again, seen_again = build(repo, tmp_path / "lanes", lane_check_command=tuple(FAIL_IF_BROKEN))
    await again.start()
    try:
        assert await asyncio.wait_for(again.wait_until_settled(), 60) is EngineState.WAITING_FOR_PERSON
        held = again.snapshot().held
        assert held is not None and held.task_id == "t-2" and "broken.txt" in held.check.output_tail
        await again.answer_check("t-2", CheckAnswer.DROP)
        assert await asyncio.wait_for(again.wait_until_settled(), 60) is EngineState.IDLE
    finally:
        await again.close()
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "open"}


async def test_a_check_that_leaves_files_behind_is_named_in_the_log(tmp_path: Path) -> None:
    tasks = [TaskSpec("t-1", ("a.txt",), script=quick("a.txt"))]
    repo = make_task_repo(tmp_path / "repo", tasks, {".gitignore": IGNORES[1]})
    check = [PY, "-c", "open('.coverage', 'w').write('data')"]
    engine, seen = build(repo, tmp_path / "lanes", lane_check_command=tuple(check))
    await engine.start()
    try:
        assert await run_one_batch(engine) is EngineState.IDLE
    finally:
        await engine.close()
    warnings = [event.text for event in seen if isinstance(event, ev.LogLine) and event.level == "warning"]
    assert any("lane check left .coverage, not ignored by git" in text for text in warnings), warnings


async def test_copies_are_checked_again_when_the_lane_commit_changes(tmp_path: Path) -> None:
    """A warm lane skips asking git about its copies only while its commit is the same: here
    a person stops ignoring .env between batches, so the next lane refuses to copy it."""
    tasks = [TaskSpec("t-1", ("a.txt",), script=quick("a.txt")),
             TaskSpec("t-2", ("b.txt",), depends_on=("t-1",), script=quick("b.txt"))]
    repo = make_task_repo(tmp_path / "repo", tasks, {".gitignore": IGNORES[1]})
    (repo / ".env").write_text("SECRET=s3cret\n")
    engine, seen = build(repo, tmp_path / "lanes", lane_copy=(".env",))
    await engine.start()
    try:
        assert await run_one_batch(engine) is EngineState.IDLE
        (repo / ".gitignore").write_text(".setup-runs\n")
        git(repo, "commit", "-qm", "stop ignoring .env", "--", ".gitignore")
        assert await run_one_batch(engine) is EngineState.IDLE
    finally:
        await engine.close()
    outcomes = finished(seen)
    assert outcomes["t-1"].outcome is ev.LaneOutcome.SUCCEEDED
    assert outcomes["t-2"].outcome is ev.LaneOutcome.FAILED and ".env is not ignored by git" in outcomes["t-2"].reason
    assert git(repo, "log", "--all", "--format=%H", "--", ".env") == ""


async def test_an_agent_that_exposes_a_copy_fails_its_lane_and_the_copy_is_never_committed(tmp_path: Path) -> None:
    unignore = {"steps": [{"write": ".gitignore", "content": ".setup-runs\n"}], "seconds": 0.05}
    tasks = [TaskSpec("t-1", (".gitignore",), script=unignore)]
    repo = make_task_repo(tmp_path / "repo", tasks, {".gitignore": IGNORES[1]})
    (repo / ".env").write_text("SECRET=s3cret\n")
    engine, seen = build(repo, tmp_path / "lanes", lane_copy=(".env",))
    await engine.start()
    try:
        assert await run_one_batch(engine) is EngineState.IDLE
    finally:
        await engine.close()
    failed = finished(seen)["t-1"]
    assert failed.outcome is ev.LaneOutcome.FAILED and ".env (copied by lane_copy) became visible" in failed.reason
    assert git(repo, "log", "--all", "--format=%H", "--", ".env") == ""
    assert ".gitignore" in git(repo, "show", "--name-only", "--format=", "orch/t-1")  # the work is kept
