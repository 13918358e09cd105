"""Waiting is said once, leaks nothing, and a silent agent is shown as stalled (real git,
the real Beads file, the scripted agent)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineState
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses
from tests.unit.engine.test_engine import build


def _progress(seen: list[ev.Event], lane: int, status: str) -> list[ev.LaneProgress]:
    return [e for e in seen if isinstance(e, ev.LaneProgress) and e.lane == lane and e.status == status]


async def test_a_lane_waiting_its_turn_says_so_once_and_leaves_no_task_behind(tmp_path: Path) -> None:
    # Three lanes, one at a time: without Agent Mail the engine runs in sequential mode.
    tasks = [TaskSpec(f"t-{n}", (f"f{n}.txt",), priority=n,
                      script={"steps": [{"append": f"f{n}.txt", "delay": 1.2}]}) for n in (1, 2, 3)]
    repo = make_task_repo(tmp_path / "repo", tasks)
    engine, seen = build(repo, tmp_path / "lanes")
    await engine.start()
    try:
        await engine.propose()
        await engine.approve()
        tasks_while_waiting: list[int] = []
        for _ in range(20):  # 2 s of waiting, sampled: the count must not grow
            await asyncio.sleep(0.1)
            tasks_while_waiting.append(len(asyncio.all_tasks()))
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
    finally:
        await engine.close()
    assert max(tasks_while_waiting) <= min(tasks_while_waiting) + 3, tasks_while_waiting
    for lane in (2, 3):
        waiting = _progress(seen, lane, "waiting")
        assert len(waiting) == 1, [e.action for e in waiting]  # said once, not once a second
        assert "sequential mode" in waiting[0].action
    assert set(read_statuses(repo).values()) == {"closed"}


async def test_a_silent_agent_is_shown_stalled_once_and_active_again_when_it_speaks(tmp_path: Path) -> None:
    script = {"steps": [{"append": "a.txt", "delay": 0.05}, {"append": "a.txt", "delay": 1.5}]}
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("t-1", ("a.txt",), script=script)])
    engine, seen = build(repo, tmp_path / "lanes", agent_stall_seconds=0.5)
    await engine.start()
    try:
        await engine.propose()
        await engine.approve()
        assert await asyncio.wait_for(engine.wait_until_settled(), 60) is EngineState.IDLE
    finally:
        await engine.close()
    [stalled] = [e for e in seen if isinstance(e, ev.LaneStalled)]
    assert stalled.lane == 1 and stalled.silent_seconds >= 0.5
    assert stalled.last_action == "append a.txt"  # what it last did
    after = seen[seen.index(stalled) + 1:]
    assert any(isinstance(e, ev.LaneProgress) and e.lane == 1 and e.status == "busy" for e in after)
    [finished] = [e for e in seen if isinstance(e, ev.LaneFinished)]
    assert finished.outcome is ev.LaneOutcome.SUCCEEDED  # a stall is shown, never acted on
