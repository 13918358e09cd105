"""A batch of 4 scripted tasks of 5 s each, merge included, against the same 4 run one by
one (target: parallel at least 3.88x faster). Parallel mode uses the real Agent Mail server;
the same batch also runs on the local reservation ledger (no Agent Mail)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.engine.wiring import build_engine
from tests.support.agent_mail_server import running_agent_mail
from tests.benchmarks.harness import Result
from tests.support.task_repos import TaskSpec, make_task_repo

TASK_SECONDS = 5.0


def _tasks() -> list[TaskSpec]:
    return [TaskSpec(f"b-{n}", (f"src/b{n}.txt",),
                     script={"steps": [{"append": f"src/b{n}.txt", "delay": TASK_SECONDS}]})
            for n in range(1, 5)]


async def _batch(root: Path, url: str, batch_size: int) -> tuple[float, dict[str, list[float]]]:
    repo = make_task_repo(root / "repo", _tasks())
    engine = build_engine(repo, Config(agent="scripted", worktree_dir=str(root / "lanes"),
                                       agent_mail_url=url, batch_size=max(2, batch_size)))
    marks: dict[str, list[float]] = {}
    engine.subscribe(lambda event: marks.setdefault(type(event).__name__, []).append(time.perf_counter()))
    await engine.start()
    try:
        start = time.perf_counter()
        batches = 0
        while True:
            await engine.propose()
            if not engine.snapshot().proposal.picked:
                break
            # One by one: drop tasks until one is left (a drop lets the next ready task in).
            while batch_size == 1 and len(engine.snapshot().proposal.picked) > 1:
                await engine.drop_task(engine.snapshot().proposal.picked[-1].task_id)
            await engine.approve()
            assert await engine.wait_until_settled() is EngineState.IDLE
            batches += 1
        elapsed = time.perf_counter() - start
    finally:
        await engine.close()
    return elapsed, {name: [at - start for at in times if at >= start] for name, times in marks.items()}


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        with running_agent_mail(root / "mail") as server:
            parallel, marks = asyncio.run(_batch(root / "parallel", server.url, 4))
            serial, _ = asyncio.run(_batch(root / "serial", server.url, 1))
        # No Agent Mail answering: `auto` reserves in the local ledger, lanes still run at once.
        local, local_marks = asyncio.run(_batch(root / "local", "http://127.0.0.1:9/mcp/", 4))
    ratio = serial / parallel
    started, finished = marks.get("LaneStarted", [0.0]), marks.get("LaneFinished", [parallel])
    return [
        Result("batch of 4 x 5 s tasks, merged (parallel)", parallel, "s"),
        Result("same 4 tasks one by one, merged", serial, "s"),
        Result("speed-up parallel vs one by one", ratio, "x", ">= 3.88", ratio >= 3.88),
        Result("parallel overhead beyond the 5 s of work", parallel - TASK_SECONDS, "s"),
        Result("  approval to first lane started", min(started), "s"),
        Result("  first to last lane started", max(started) - min(started), "s"),
        Result("  last lane finished to last merge done", parallel - max(finished), "s"),
        Result("one by one: overhead per task", serial / 4 - TASK_SECONDS, "s"),
        Result("batch of 4 x 5 s tasks on the local ledger (no Agent Mail)", local, "s"),
        Result("speed-up local ledger vs one by one", serial / local, "x", ">= 3.88", serial / local >= 3.88),
        Result("  local: first to last lane started",
               max(local_marks.get("LaneStarted", [0.0])) - min(local_marks.get("LaneStarted", [0.0])), "s"),
    ]
