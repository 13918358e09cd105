"""The engine with the real Agent Mail server: parallel lanes hold reservations; the server
stopped mid-batch sends the engine to sequential mode and its return brings parallel back."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.config import Config
from orch_tui.orchestration.engine import Engine
from orch_tui.orchestration.wiring import build_engine
from tests.agent_mail_server import running_agent_mail
from tests.helpers import agent_mail_python
from tests.task_repos import TaskSpec, make_task_repo, read_statuses

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
        await engine.start()
        try:
            await engine.propose()
            await engine.approve()
            assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
            await _until(lambda: not engine.snapshot().reservations, timeout=10)
        finally:
            await engine.close()
    ledgers = [{r.path_pattern for r in e.reservations} for e in seen if isinstance(e, ev.ReservationsChanged)]
    assert {"src/p1/**", "src/p2/**", "src/p3/**"} in ledgers, "all three lanes held their files at once"
    order = [type(e).__name__ for e in seen if isinstance(e, (ev.LaneStarted, ev.LaneFinished))]
    assert order[:3] == ["LaneStarted"] * 3, "every lane started before any finished"
    assert set(read_statuses(repo).values()) == {"closed"}
