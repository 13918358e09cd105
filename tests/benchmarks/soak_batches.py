"""Soak (not CI): batch after batch through the real engine, printing memory and loop stalls.

    .venv/bin/python -m tests.benchmarks.soak_batches                 # an hour
    .venv/bin/python -m tests.benchmarks.soak_batches --minutes 10    # or N minutes

One process runs the engine the way `orch-tui run --yes` does (real git repository in a
temporary directory, the Beads JSONL tracker, the worktree pool, the merge queue, the live
diff, the local reservation ledger) with scripted agents. The tracker holds `--lanes` tasks,
reopened before each batch (each appends a line to its own file, so every batch merges real
commits and the graph keeps its size: what grows is the engine, not its input); the batch
is proposed, approved and run to the end. One JSON line a batch on stdout: its
number, seconds, tasks merged so far, resident memory (MB, from /proc) and the longest
event-loop stall during it (a 5 ms heartbeat). At the end a summary: memory after the
warm-up, at the end, the highest, and the growth over the second half of the run in MB per
10 minutes. Memory is bounded when that growth is near zero: the tracker, the repository
and the journal grow with every batch, so a little growth is expected; a leak grows with
the number of batches at a steady rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks.bench_load import _rss_mb

WARM_UP_BATCHES = 3
HEARTBEAT_SECONDS = 0.005


@dataclass
class BatchFigures:
    number: int
    seconds: float
    merged: int
    rss_mb: float
    stall_ms: float

    def line(self) -> str:
        return json.dumps({"batch": self.number, "seconds": round(self.seconds, 2), "merged": self.merged,
                           "rss_mb": round(self.rss_mb, 1), "stall_ms": round(self.stall_ms, 1)})


@dataclass
class LoopWatch:
    """The longest gap between two heartbeats since the last `take()`."""

    longest: float = 0.0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def _beat(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - HEARTBEAT_SECONDS)
            last = now

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._beat())

    def take(self) -> float:
        longest, self.longest = self.longest, 0.0
        return longest

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])


def _task_line(number: int) -> str:
    task_id = f"soak-{number}"
    return json.dumps({
        "id": task_id, "title": f"Soak task {number}", "status": "open", "priority": 2, "issue_type": "task",
        "description": f"Write its own file.\nFiles: src/soak/{task_id}.txt\n",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "metadata": {"orch_script": {"steps": [{"append": f"src/soak/{task_id}.txt", "delay": 0.1},
                                               {"append": f"src/soak/{task_id}.txt", "delay": 0.1}]}},
    }) + "\n"


def _make_repo(root: Path, lanes: int) -> Path:
    from tests.support.helpers import make_repo

    tasks = "".join(_task_line(number) for number in range(1, lanes + 1))
    return make_repo(root / "repo", {"README.md": "# soak\n", ".beads/issues.jsonl": tasks,
                                     ".orch-tui.toml": f'worktree_dir = "{root / "lanes"}"\n'})


def _summary(figures: list[BatchFigures], minutes: float) -> dict[str, float]:
    settled = figures[WARM_UP_BATCHES:] or figures
    half = settled[len(settled) // 2:]
    span_minutes = max(sum(f.seconds for f in half) / 60, 1e-9)
    growth = (half[-1].rss_mb - half[0].rss_mb) / span_minutes * 10 if len(half) > 1 else 0.0
    return {"minutes": round(minutes, 1), "batches": len(figures), "merged": figures[-1].merged,
            "rss_after_warm_up_mb": round(settled[0].rss_mb, 1), "rss_end_mb": round(figures[-1].rss_mb, 1),
            "rss_max_mb": round(max(f.rss_mb for f in figures), 1),
            "second_half_growth_mb_per_10_min": round(growth, 2),
            "stall_median_ms": round(statistics.median(f.stall_ms for f in figures), 1),
            "stall_max_ms": round(max(f.stall_ms for f in figures), 1)}


async def soak(minutes: float, lanes: int, root: Path) -> dict[str, float]:
    from orch_tui.orchestration.commands import EngineState
    from orch_tui.orchestration.engine.wiring import build_engine, effective_config

    repo = _make_repo(root, lanes)
    config = effective_config(repo, agent="scripted", agent_mail_url="http://127.0.0.1:9/mcp/", batch_size=lanes)
    engine = build_engine(repo, config)
    watch = LoopWatch()
    figures: list[BatchFigures] = []
    started = time.monotonic()
    await engine.start()
    watch.start()
    try:
        while time.monotonic() - started < minutes * 60:
            number = len(figures) + 1
            if figures:  # the same tasks again: the graph keeps its size
                for task in range(1, lanes + 1):
                    await asyncio.to_thread(engine.parts.store.update, f"soak-{task}", status="open")
            watch.take()
            begun = time.perf_counter()
            await engine.propose()
            await engine.approve()
            state = await asyncio.wait_for(engine.wait_until_settled(), 300)
            if state is not EngineState.IDLE:
                raise SystemExit(f"batch {number} ended {state.name}: {engine.snapshot()}")
            closed = sum(1 for line in (repo / ".beads" / "issues.jsonl").read_text().splitlines()
                         if '"closed"' in line)
            if closed != lanes:
                raise SystemExit(f"batch {number}: {closed} of {lanes} tasks closed; see {repo}")
            merged = (figures[-1].merged if figures else 0) + closed
            figures.append(BatchFigures(number, time.perf_counter() - begun, merged, _rss_mb(),
                                        watch.take() * 1000))
            print(figures[-1].line(), flush=True)
    finally:
        await watch.stop()
        await engine.close()
    return _summary(figures, (time.monotonic() - started) / 60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.soak_batches", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="how long to keep running batches (60)")
    parser.add_argument("--lanes", type=int, default=4, help="tasks (lanes) per batch, 2..6 (4)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="orch-soak-") as root:
        summary = asyncio.run(soak(args.minutes, args.lanes, Path(root)))
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
