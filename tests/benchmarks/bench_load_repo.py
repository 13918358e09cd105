"""The dashboard under load with real lanes: a 20,000-file repository, 6 lane worktrees whose
agents edit a file every 100 ms each (the real live diff watching them: inotify, git diff
in threads), a 10k-issue graph and 1,000 reservations refreshed twice a second. Measured: the
longest event-loop stall of the dashboard process (and p99).

`.venv/bin/python -m tests.benchmarks.run load_repo` (the repository is built once, ~1 min;
then three runs of 5 s, each in a fresh process, medians). `bench_load` measures the same
dashboard with synthetic diffs at 20 a second; this one adds the cost of the real live diff
on a large repository.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench_load import EDGES, ISSUES, LANES, RESERVATIONS, STALL_TARGET_MS, _reservations
from tests.benchmarks.harness import Result, measure_loop_gaps

FILES, FOLDERS = 20_000, 200
EDIT_EVERY_SECONDS, FILES_EDITED_PER_LANE = 0.1, 40
RESERVATION_REFRESHES_PER_SECOND = 2
RUN_SECONDS, RUNS = 5.0, 3


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def build(root: Path) -> Path:
    """The repository (FILES tracked files in FOLDERS folders) and LANES worktrees beside it."""
    repo = root / "repo"
    for number in range(FILES):
        folder = repo / "src" / f"pkg{number % FOLDERS}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{number}.py").write_text(f"VALUE = {number}\n" * 10)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    for lane in range(1, LANES + 1):
        _git(repo, "worktree", "add", "-q", "-b", f"orch/lane-{lane}", str(root / f"lane-{lane}"))
    return root


def _lane_files(lane: int) -> list[str]:
    return [f"src/pkg{(lane * 7 + number) % FOLDERS}/mod{(lane * 7 + number) % FOLDERS + FOLDERS * number}.py"
            for number in range(FILES_EDITED_PER_LANE)]


async def _under_load(root: Path, seconds: float) -> dict[str, float]:
    from orch_tui.orchestration import events as ev
    from orch_tui.orchestration.lanes.live_diff import LaneDiffWatcher
    from tests.support.synthetic_graphs import synthetic_graph
    from tests.ui.scenario_engine import ScenarioEngine
    from tests.ui.ui_helpers import make_app

    base = _git(root / "repo", "rev-parse", "HEAD")
    for lane in range(1, LANES + 1):  # each run starts from clean lanes
        _git(root / f"lane-{lane}", "checkout", "-q", "--", ".")
    graph = synthetic_graph(ISSUES, EDGES)
    engine = ScenarioEngine(graph, batch_size=LANES)
    app = make_app(engine)
    gaps: list[float] = []
    diffs = 0
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        task_ids = list(graph.tasks)[:LANES]
        watchers = []
        for lane, task_id in enumerate(task_ids, start=1):
            worktree = root / f"lane-{lane}"
            engine.emit(ev.LaneStarted(lane, task_id, graph.tasks[task_id].title, f"orch/lane-{lane}", str(worktree)))

            def sink(event: ev.Event) -> None:
                nonlocal diffs
                diffs += isinstance(event, ev.LaneDiff)
                engine.emit(event)

            watchers.append(LaneDiffWatcher(lane, task_id, worktree, base, ("src/**",), sink, starts_clean=True))
        watching = [asyncio.ensure_future(watcher.run()) for watcher in watchers]
        for watcher in watchers:
            await watcher.wait_ready()
        engine.emit(ev.ReservationsChanged(_reservations(0)))
        await pilot.pause()
        stop = time.perf_counter() + seconds

        async def agents() -> None:
            files = {lane: _lane_files(lane) for lane in range(1, LANES + 1)}
            for edit in range(10**9):
                if time.perf_counter() >= stop:
                    return
                for lane in range(1, LANES + 1):
                    path = root / f"lane-{lane}" / files[lane][edit % FILES_EDITED_PER_LANE]
                    await asyncio.to_thread(_append, path, f"EDIT = {edit}\n")
                await asyncio.sleep(EDIT_EVERY_SECONDS)

        async def reservations() -> None:
            for round_number in range(1, 10**9):
                if time.perf_counter() >= stop:
                    return
                engine.emit(ev.ReservationsChanged(_reservations(round_number)))
                await asyncio.sleep(1 / RESERVATION_REFRESHES_PER_SECOND)

        await asyncio.gather(measure_loop_gaps(stop, gaps), agents(), reservations())
        for task in watching:
            task.cancel()
        await asyncio.wait(watching)
        await pilot.pause()
    return {"stall_ms": max(gaps) * 1000, "p99_ms": statistics.quantiles(gaps, n=100)[98] * 1000,
            "diffs": float(diffs)}


def _append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-load-repo-") as folder:
        root = build(Path(folder))
        runs = []
        for _ in range(RUNS):
            out = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_load_repo", "once", str(root)],
                                 check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    stall = statistics.median(r["stall_ms"] for r in runs)
    return [
        Result(f"longest loop stall: {FILES // 1000}k-file repo, {LANES} real lanes x "
               f"{1 / EDIT_EVERY_SECONDS:.0f} edits/s, {ISSUES // 1000}k issues, {RESERVATIONS} reservations",
               stall, "ms", f"<= {STALL_TARGET_MS:.0f} ms", stall <= STALL_TARGET_MS),
        Result("loop stall p99 (same runs)", statistics.median(r["p99_ms"] for r in runs), "ms"),
        Result(f"live diffs shown in {RUN_SECONDS:.0f} s (median, all lanes)",
               statistics.median(r["diffs"] for r in runs), "diffs"),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["once"]:
        print(json.dumps(asyncio.run(_under_load(Path(sys.argv[2]), RUN_SECONDS))))
    else:
        for result in run():
            print(result.line())
