"""Worktree pool and merge queue on a generated 20k-file repository.

* dispatching 4 lanes from a warm pool vs 4 fresh `git worktree add` (target: >= 12x faster),
  with the git processes one warm dispatch of a lane starts and what each costs
* the same warm dispatch with each lane's environment prepared (10 ports leased, `.env`
  copied, setup skipped because `uv.lock` did not change): within 10% of the plain one
* merge throughput: clean merges a second, one at a time without and with a verify_command
  (`true`, so the figure is the queue's own cost: a merge with a verify command is made in
  the merge worktree, checked out), and a series of 4 merged with one move of the target
* merging 4 clean branches with prediction and a suggested order (time reported)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.lanes.environment import LaneEnvironments
from orch_tui.orchestration.merging.queue import MergeQueue
from orch_tui.orchestration.lanes.worktrees import WorktreePool
from tests.benchmarks.git_census import read_calls, traced
from tests.benchmarks.harness import Result, median_seconds

FILE_COUNT = 20_000
LANES = 4
REPEAT = 3
PAIRS = 11
"""Plain and lane-environment warm dispatches, measured in pairs."""
TARGET_RATIO = 12.0
MERGES = 4
_IDENTITY = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
             "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
             "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _generate(path: Path) -> Path:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    for n in range(FILE_COUNT):
        folder = path / "src" / f"pkg{n // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{n % 100:02d}.py").write_text(f"# module {n}\nVALUE = {n}\n\ndef f():\n    return VALUE\n")
    (path / ".gitignore").write_text(".venv/\n.env\n")
    (path / "uv.lock").write_text("version = 1\n")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "20k files")
    return path


class _Counter:
    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


def _bench_dispatch(repo: Path, scratch: Path, counter: _Counter) -> list[Result]:
    pool = WorktreePool(repo, LANES, root=scratch / "pool")
    pool.ensure()

    def finish_previous_tasks() -> None:  # untimed: each lane ends a task with a small commit
        for lane in pool.lanes:
            if lane.branch:
                (Path(lane.path) / "src" / "pkg000" / f"task-{lane.index}.py").write_text("x = 1\n")
                pool.release(lane.index)

    def warm() -> None:
        run = counter.next()
        for index in range(1, LANES + 1):
            pool.assign(index, f"warm-{run}-{index}", "main")

    fresh_root = scratch / "fresh"

    def remove_fresh() -> None:
        if fresh_root.exists():
            for child in fresh_root.iterdir():
                _git(repo, "worktree", "remove", "--force", str(child))
        _git(repo, "worktree", "prune")

    def fresh() -> None:
        run = counter.next()
        for index in range(1, LANES + 1):
            _git(repo, "worktree", "add", "-q", "-b", f"fresh/{run}-{index}",
                 str(fresh_root / f"lane-{index}"), "main")

    environments = LaneEnvironments(repo, Config(lane_setup_command=(sys.executable, "-c", "pass"),
                                                 lane_setup_when_changed=("uv.lock",), lane_copy=(".env",)))
    (repo / ".env").write_text("SECRET=bench\n")

    async def prepare_all(run: int) -> None:
        for index in range(1, LANES + 1):
            lane = pool.assign(index, f"env-{run}-{index}", "main")
            prepared = await environments.prepare(index, lane.task_id or "", Path(lane.path), lambda event: None,
                                                  head=lane.head)
            if prepared.failure or (run > 0 and not prepared.setup.startswith("skipped")):
                raise RuntimeError(f"benchmark lane environment: {prepared.failure or prepared.setup}")
            environments.release(index)

    # One event loop for every run, as in the dashboard: a new loop (and its worker threads)
    # for each dispatch would be measured as if it were the lane environment's cost.
    loop = asyncio.new_event_loop()

    def warm_with_environment() -> None:
        loop.run_until_complete(prepare_all(counter.next()))

    finish_previous_tasks()
    loop.run_until_complete(prepare_all(0))  # untimed: the first setup of each lane runs and is remembered
    warm_seconds = median_seconds(warm, REPEAT, setup=finish_previous_tasks)
    # Pairs measured back to back, each side first in every other pair, and the median of the
    # pairs' ratios: a machine busy with other work (or drifting over minutes) slows both
    # sides of a pair alike, while the step itself costs a few ms of ~0.4 s.
    plain_times, env_times = [], []
    for pair in range(PAIRS):
        sides = [(plain_times, warm), (env_times, warm_with_environment)]
        for times, action in sides if pair % 2 == 0 else sides[::-1]:
            times.append(median_seconds(action, 1, setup=finish_previous_tasks))
    env_seconds = statistics.median(env_times)
    overhead = statistics.median(env / plain for env, plain in zip(env_times, plain_times))
    loop.close()
    fresh_seconds = median_seconds(fresh, REPEAT, setup=remove_fresh)
    remove_fresh()
    ratio = fresh_seconds / warm_seconds
    return [
        Result(f"dispatch {LANES} lanes, warm pool ({FILE_COUNT} files)", warm_seconds, "s"),
        Result(f"dispatch {LANES} lanes, fresh git worktree add", fresh_seconds, "s"),
        Result("warm pool speed-up over fresh worktrees", ratio, "x", f">= {TARGET_RATIO:g}x",
               ratio >= TARGET_RATIO),
        *_one_lane_census(pool, counter, scratch, finish_previous_tasks),
        Result(f"dispatch {LANES} lanes, warm pool + lane environment (setup skipped)", env_seconds, "s"),
        Result("lane environment cost over plain warm dispatch (median of pairs)", overhead, "x", "<= 1.10x",
               overhead <= 1.10),
    ]


def _one_lane_census(pool: WorktreePool, counter: _Counter, scratch: Path,
                     finish_previous_tasks: Callable[[], None]) -> list[Result]:
    """What one warm dispatch of a lane runs: git processes by command, each one's time."""
    finish_previous_tasks()
    run = counter.next()
    with traced(scratch / f"trace-{run}") as folder:
        start = time.perf_counter()
        pool.assign(1, f"census-{run}", "main")
        seconds = time.perf_counter() - start
    calls = read_calls(folder)
    results = [Result(f"  one lane's warm dispatch: {len(calls)} git processes", seconds, "s")]
    for call in calls:
        results.append(Result(f"    git {call.command}", call.seconds, "s"))
    return results


def _bench_merge(repo: Path, scratch: Path, counter: _Counter) -> list[Result]:
    queue = MergeQueue(repo, Config(), root=scratch / "pool")
    branches: list[str] = []
    timings: dict[str, float] = {}

    def make_branches() -> None:  # untimed: 4 task branches, each editing its own file
        run = counter.next()
        branches.clear()
        base = _git(repo, "rev-parse", "main")
        for index in range(1, LANES + 1):
            blob_dir = scratch / f"edit-{run}-{index}"
            _git(repo, "worktree", "add", "-q", "--no-checkout", "-b", f"orch/bench-{run}-{index}", str(blob_dir), base)
            _git(blob_dir, "reset", "-q")  # index only: no 20k-file checkout needed for one edit
            target = blob_dir / "src" / f"pkg{index:03d}" / "mod00.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"# changed by task {run}-{index}\n")
            _git(blob_dir, "add", str(target.relative_to(blob_dir)))
            _git(blob_dir, "commit", "-q", "-m", f"task {run}-{index}")
            _git(repo, "worktree", "remove", "--force", str(blob_dir))
            branches.append(f"orch/bench-{run}-{index}")

    def predict_and_merge() -> None:
        start = time.perf_counter()
        order = queue.suggested_order(queue.predict(branches))
        timings.setdefault("predict", 0.0)
        timings["predict"] += time.perf_counter() - start
        for branch in order:
            outcome = queue.merge(branch)
            if not outcome.ok:
                raise RuntimeError(f"benchmark merge failed: {outcome.message}")

    seconds = median_seconds(predict_and_merge, REPEAT, setup=make_branches)

    def merge_each(merging: MergeQueue) -> Callable[[], None]:
        def action() -> None:
            for branch in branches:
                outcome = merging.merge(branch)
                if not outcome.ok:
                    raise RuntimeError(f"benchmark merge failed: {outcome.message}")
        return action

    def merge_series() -> None:
        if len(queue.merge_series_if_clean(list(branches))) != len(branches):
            raise RuntimeError("benchmark series merge stopped early")

    verifying = MergeQueue(repo, Config(verify_command=("true",)), root=scratch / "pool")
    plain = median_seconds(merge_each(queue), REPEAT, setup=make_branches)
    verified = median_seconds(merge_each(verifying), REPEAT, setup=make_branches)
    series = median_seconds(merge_series, REPEAT, setup=make_branches)
    return [
        Result(f"predict + order {LANES} clean branches (mean)", timings["predict"] / REPEAT, "s"),
        Result(f"merge {LANES} clean branches with prediction", seconds, "s"),
        Result("merge throughput, one at a time, no verify_command", LANES / plain, "/s"),
        Result("merge throughput, one at a time, verify_command `true`", LANES / verified, "/s"),
        Result(f"merge throughput, a series of {LANES} (one move of the target)", LANES / series, "/s"),
    ]


def run() -> list[Result]:
    saved = {key: os.environ.get(key) for key in _IDENTITY}
    os.environ.update(_IDENTITY)
    scratch = Path(tempfile.mkdtemp(prefix="orch-bench-worktrees-"))
    try:
        repo = _generate(scratch / "repo")
        counter = _Counter()
        return _bench_dispatch(repo, scratch, counter) + _bench_merge(repo, scratch, counter)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
