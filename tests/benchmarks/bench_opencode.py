"""From the approval of a batch to the first agent working, with the real `opencode` binary
(tests/tools installs it) against the scripted model server of the tests.

Measured in-process through the engine, as `orch-tui run` drives it: the engine's start
(which starts `opencode serve`), then for each of two batches of one task: approval -> lane
started -> the agent's first sign of work (its first `busy` progress: the model answered and
OpenCode began a step) -> its first tool call -> its edit on disk (LaneDiff) -> the lane
finished. The second batch shows the figure with the server already warm.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import pytest

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.engine.wiring import build_engine
from orch_tui.orchestration.settings.config import Config
from tests.benchmarks.harness import Result
from tests.support.fake_model_server import FakeModelServer
from tests.support.helpers import opencode_binary
from tests.support.task_repos import TaskSpec, make_task_repo

TASKS = 2
_ISOLATION = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
              "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
              "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def _opencode_env(home: Path, model: FakeModelServer) -> dict[str, str]:
    from tests.e2e.test_opencode_e2e import isolated_env

    return isolated_env(home, model.opencode_config())


async def _measure(root: Path, model: FakeModelServer, binary: Path) -> dict[str, list[float]]:
    lanes = Path(os.path.realpath(root)) / "lanes"
    tasks = [TaskSpec(f"o-{n}", (f"src/o{n}.py",), priority=n) for n in range(1, TASKS + 1)]
    repo = make_task_repo(root / "repo", tasks)
    config = Config(agent="opencode", opencode_binary=str(binary), opencode_model="fake/scripted",
                    worktree_dir=str(lanes), agent_mail_url="http://127.0.0.1:9/mcp/", batch_size=2,
                    agent_timeout_seconds=90)
    engine = build_engine(repo, config, runner_env=_opencode_env(root / "home", model))
    seen: dict[str, float] = {}

    def sink(event: ev.Event) -> None:
        now = time.perf_counter()
        if isinstance(event, ev.LaneProgress) and event.status == "busy":
            seen.setdefault("working", now)
            if event.action.endswith("(started)"):
                seen.setdefault("tool", now)
        elif isinstance(event, ev.LaneDiff) and event.files:
            seen.setdefault("edited", now)
        elif isinstance(event, (ev.LaneStarted, ev.LaneFinished)):
            seen.setdefault(type(event).__name__, now)

    engine.subscribe(sink)
    figures: dict[str, list[float]] = {}
    start = time.perf_counter()
    await engine.start()
    figures["start"] = [time.perf_counter() - start]
    try:
        for number in range(1, TASKS + 1):
            await engine.propose()
            picked = engine.snapshot().proposal.picked
            while len(picked) > 1:
                await engine.drop_task(picked[-1].task_id)
                picked = engine.snapshot().proposal.picked
            task_id = picked[0].task_id
            model.script(str(lanes / "lane-1"), [
                model.tool("write", filePath=str(lanes / "lane-1" / "src" / f"{task_id}.py"), content="X = 1\n"),
                model.text("Wrote it.")])
            seen.clear()
            approved = time.perf_counter()
            await engine.approve()
            if await engine.wait_until_settled() is not EngineState.IDLE:
                raise RuntimeError(f"benchmark batch {number} did not end idle: {engine.snapshot().state}")
            for name in ("LaneStarted", "working", "tool", "edited", "LaneFinished"):
                if name not in seen:
                    raise RuntimeError(f"benchmark batch {number}: no {name} event")
                figures.setdefault(name, []).append(seen[name] - approved)
    finally:
        await engine.close()
    return figures


def run() -> list[Result]:
    try:
        binary = opencode_binary()
    except pytest.skip.Exception as missing:
        return [Result(f"approval -> first agent working (OpenCode): not measured, {missing}", 0.0, "s")]
    saved = {key: os.environ.get(key) for key in _ISOLATION}
    os.environ.update(_ISOLATION)
    try:
        with FakeModelServer() as model, tempfile.TemporaryDirectory(prefix="bench-opencode-") as folder:
            figures = asyncio.run(_measure(Path(folder), model, binary))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    first, warm = (lambda name: figures[name][0]), (lambda name: statistics.median(figures[name][1:]))
    return [
        Result("engine start with `opencode serve` (server up, events connected)", figures["start"][0], "s"),
        Result("approval -> first agent working, first batch (OpenCode)", first("working"), "s"),
        Result("approval -> first agent working, next batch (server warm)", warm("working"), "s"),
        Result("  approval -> lane started (worktree, claim, tracker)", warm("LaneStarted"), "s"),
        Result("  approval -> its first tool call", warm("tool"), "s"),
        Result("  approval -> its edit seen on disk (LaneDiff)", warm("edited"), "s"),
        Result("  approval -> lane finished", warm("LaneFinished"), "s"),
    ]
