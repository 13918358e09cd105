"""The engine with the real Agent Mail server: parallel lanes hold reservations; the server
stopped mid-batch sends the engine to sequential mode and its return brings parallel back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.reservations.agent_mail import AgentMailClient
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.engine import supervision
from orch_tui.orchestration.engine.core import Engine
from orch_tui.orchestration.engine.wiring import build_engine
from tests.support.agent_mail_server import running_agent_mail
from tests.support.helpers import agent_mail_python
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

pytestmark = [pytest.mark.slow, pytest.mark.agent_mail]


def _engine(repo: Path, lanes: Path, url: str) -> tuple[Engine, list[ev.Event]]:
    config = Config(agent="scripted", worktree_dir=str(lanes), agent_mail_url=url)
    engine = build_engine(repo, config)
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    return engine, seen


async def _until(predicate, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_server_lost_mid_batch_goes_sequential_and_comes_back(tmp_path: Path) -> None:
    agent_mail_python()
    slow = {"steps": [{"append": "PLACEHOLDER", "delay": 1.5}, {"append": "PLACEHOLDER", "delay": 1.5}]}
    tasks = []
    for n in range(1, 5):
        path = f"src/f{n}.txt"
        script = {"steps": [{**step, "append": path} for step in slow["steps"]]}
        tasks.append(TaskSpec(f"m-{n}", (path,), script=script))
    repo = make_task_repo(tmp_path / "repo", tasks)
    with running_agent_mail(tmp_path / "mail") as server:
        engine, seen = _engine(repo, tmp_path / "lanes", server.url)
        await engine.start()
        try:
            assert engine.snapshot().mode is ev.Mode.PARALLEL
            await engine.propose()
            await engine.approve()
            await _until(lambda: len([e for e in seen if isinstance(e, ev.LaneStarted)]) >= 2)
            await _until(lambda: any(e.reservations for e in seen if isinstance(e, ev.ReservationsChanged)))
            server.kill()
            await _until(lambda: engine.snapshot().mode is ev.Mode.SEQUENTIAL)
            server.start()
            await _until(lambda: engine.snapshot().mode is ev.Mode.PARALLEL)
            assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
        finally:
            await engine.close()
    modes = [e.mode for e in seen if isinstance(e, ev.ModeChanged)]
    assert modes[-3:] == [ev.Mode.PARALLEL, ev.Mode.SEQUENTIAL, ev.Mode.PARALLEL]
    failures = [(e.task_id, e.reason) for e in seen if isinstance(e, ev.LaneFinished)
                and e.outcome is not ev.LaneOutcome.SUCCEEDED]
    assert failures == []
    assert set(read_statuses(repo).values()) == {"closed"}
    starts = [e for e in seen if isinstance(e, ev.LaneStarted)]
    assert len(starts) == 4


async def test_lanes_run_in_parallel_with_reservations(tmp_path: Path) -> None:
    agent_mail_python()
    tasks = [TaskSpec(f"p-{n}", (f"src/p{n}/**",), script={"steps": [{"write": f"src/p{n}/a.txt", "delay": 3.0}]})
             for n in range(1, 4)]
    repo = make_task_repo(tmp_path / "repo", tasks)
    with running_agent_mail(tmp_path / "mail") as server:
        engine, seen = _engine(repo, tmp_path / "lanes", server.url)
        requests = []
        run = engine.parts.runner.run
        engine.parts.runner.run = lambda request, sink: requests.append(request) or run(request, sink)
        # Confirming claims makes the server work: that waits until every lane has started.
        starts_then_confirms: list[str] = []
        engine.subscribe(lambda e: isinstance(e, ev.LaneStarted) and starts_then_confirms.append("started"))
        backend = engine.parts.reservations
        confirm = backend.confirm

        async def confirm_recorded(lane: int) -> object:
            starts_then_confirms.append("confirm")
            return await confirm(lane)

        backend.confirm = confirm_recorded
        await engine.start()
        try:
            await engine.propose()
            await engine.approve()
            assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
            await _until(lambda: not engine.snapshot().reservations, timeout=10)
        finally:
            await engine.close()
    manager = engine.parts.reservations
    # Each coder is told the Agent Mail agent its lane's files are held by (orch-coding skill).
    assert {(r.lane, r.mail_agent, r.mail_project) for r in requests} == {
        (lane, manager.agent_name(lane), str(repo)) for lane in (1, 2, 3)}
    ledgers = [{r.path_pattern for r in e.reservations} for e in seen if isinstance(e, ev.ReservationsChanged)]
    assert {"src/p1/**", "src/p2/**", "src/p3/**"} in ledgers, "all three lanes held their files at once"
    order = [type(e).__name__ for e in seen if isinstance(e, (ev.LaneStarted, ev.LaneFinished))]
    assert order[:3] == ["LaneStarted"] * 3, "every lane started before any finished"
    assert starts_then_confirms == ["started"] * 3 + ["confirm"] * 3
    assert set(read_statuses(repo).values()) == {"closed"}


@pytest.mark.parametrize("ledger_knows", [True, False], ids=["seen-in-ledger", "reported-by-server"])
async def test_a_lane_whose_files_another_agent_holds_fails_and_the_others_merge(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_knows: bool) -> None:
    """Another agent reserved one task's file just before approval. If the engine's ledger
    shows it, the lane is refused before its agent starts; if only the server knows, the
    agent starts and is stopped when the server answers. Either way the task is reopened
    naming the holder, and the rest of the batch merges."""
    agent_mail_python()
    monkeypatch.setattr(supervision, "HEALTH_INTERVAL_SECONDS", 600.0)  # no ledger read of its own
    tasks = [TaskSpec(f"x-{n}", (f"src/x{n}.txt",), script={"steps": [{"append": f"src/x{n}.txt", "delay": 1.0}]})
             for n in (1, 2)]
    repo = make_task_repo(tmp_path / "repo", tasks)
    with running_agent_mail(tmp_path / "mail") as server:
        engine, seen = _engine(repo, tmp_path / "lanes", server.url)
        await engine.start()
        async with AgentMailClient(server.url) as person:
            try:
                await engine.propose()
                await person.call_tool("register_agent", {"project_key": str(repo), "program": "editor",
                                                          "model": "x", "name": "person-agent"})
                await person.call_tool("file_reservation_paths", {
                    "project_key": str(repo), "agent_name": "personagent", "paths": ["src/x2.txt"],
                    "ttl_seconds": 600})
                if ledger_knows:
                    await engine.parts.reservations.refresh_ledger()
                await engine.approve()
                assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
            finally:
                await engine.close()
    finished = {e.task_id: e for e in seen if isinstance(e, ev.LaneFinished)}
    assert finished["x-1"].outcome is ev.LaneOutcome.SUCCEEDED
    assert finished["x-2"].outcome is ev.LaneOutcome.FAILED
    assert "reserved by someone else" in finished["x-2"].reason and "personagent" in finished["x-2"].reason
    assert read_statuses(repo) == {"x-1": "closed", "x-2": "open"}
    assert (repo / "src" / "x1.txt").exists() and not (repo / "src" / "x2.txt").exists()
    started = {e.task_id for e in seen if isinstance(e, ev.LaneStarted)}
    assert started == ({"x-1"} if ledger_knows else {"x-1", "x-2"})
