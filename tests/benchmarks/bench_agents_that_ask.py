"""How soon a person sees that an OpenCode agent asks, and how soon an answer lets it finish:
the real `opencode serve` (started once, warm) and the scripted model server, through the
engine; a `bash` call under `"permission": {"bash": "ask"}` in a fresh task each run.

Target (issue 15): the lane is in needs-input within 5 s of the batch's approval."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from orch_tui.orchestration import events as ev

from tests.benchmarks.harness import Result

RUNS = 5


async def _measure() -> tuple[list[float], list[float]]:
    from tests.e2e import test_agents_that_ask as scenario
    from tests.support.fake_model_server import FakeModelServer
    from tests.support.helpers import opencode_binary

    asks: list[float] = []
    ends: list[float] = []
    with FakeModelServer() as model:
        home = Path(tempfile.mkdtemp(prefix="orch-bench-home-"))
        server = scenario.SharedServerRunner(str(opencode_binary()), "fake/scripted",
                                             env=scenario.runner_env(home, model))
        await server.start()
        try:
            for _ in range(RUNS):
                root = Path(tempfile.mkdtemp(prefix="orch-bench-ask-"))
                repo = scenario.bash_task(root / "repo", root / "lanes", model)
                engine, seen = scenario.build(repo, root / "lanes", server)
                await engine.start()
                await engine.propose()
                start = time.monotonic()
                await engine.approve()
                asked = await scenario.next_event(seen, ev.LaneNeedsInput)
                asks.append(time.monotonic() - start)
                assert isinstance(asked, ev.LaneNeedsInput)
                start = time.monotonic()
                await engine.answer_input(1, asked.request.id, ev.InputAnswer(ev.Reply.ONCE))
                await scenario.next_event(seen, ev.LaneFinished)
                ends.append(time.monotonic() - start)
                await engine.wait_until_settled()
                await engine.close()
        finally:
            await server.shut_down()
    return asks, ends


def run() -> list[Result]:
    asks, ends = asyncio.run(_measure())
    ask = statistics.median(asks)
    return [
        Result("approve -> lane needs input (median of 5)", ask, "s", "< 5 s", ask < 5.0),
        Result("approve -> lane needs input (slowest of 5)", max(asks), "s"),
        Result("answer once -> lane finished (median of 5)", statistics.median(ends), "s"),
    ]
