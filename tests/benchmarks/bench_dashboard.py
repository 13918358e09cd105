"""Dashboard benchmarks: time to first frame and peak memory with a 10k-issue graph, and the
longest event-loop stall while 4 lanes each change 50 files a second.

`.venv/bin/python -m tests.benchmarks.run dashboard`. Each measurement runs in a fresh
process (so peak memory is that process's own high-water mark); medians of a few runs.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks.harness import Result, measure_loop_gaps

ISSUES, EDGES = 10_000, 15_000
FIRST_FRAME_TARGET_S, MEMORY_TARGET_MB, STALL_TARGET_MS = 0.6, 150.0, 50.0
LANES, FILES_PER_SECOND, STALL_SECONDS = 4, 50, 3.0
RUNS = 3


MAX_FILES = 200


def _file_diffs(lane: int) -> list[str]:
    """One diff chunk per file; the agent's diff after n files is the first n joined."""
    chunks = []
    for number in range(MAX_FILES):
        path = f"src/lane{lane}/module_{number}.py"
        chunks.append(f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,3 +1,4 @@\n"
                      + "".join(f"+line {i} of {path}\n" for i in range(8)) + " context\n")
    return chunks


async def _first_frame() -> dict[str, float]:
    from tests.support.synthetic_graphs import synthetic_graph
    from tests.ui.scenario_engine import ScenarioEngine
    from tests.ui.ui_helpers import make_app

    graph = synthetic_graph(ISSUES, EDGES)
    engine = ScenarioEngine(graph)
    start = time.perf_counter()
    app = make_app(engine)
    drawn = asyncio.Event()
    async with app.run_test(size=(160, 48)) as pilot:
        app.call_after_refresh(drawn.set)
        await drawn.wait()
        seconds = time.perf_counter() - start
        await pilot.pause()
    return {"first_frame_s": seconds, "peak_mb": _own_peak_mb()}


def _own_peak_mb() -> float:
    """This process's resident high-water mark. Not ru_maxrss: Linux carries it across
    exec, so a child of the benchmark runner reported the runner's own peak (146 MB after
    the Beads benchmarks had run, 73 MB when run alone). VmHWM belongs to this process."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kilobytes = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return kilobytes / 1024


async def _stall() -> dict[str, float]:
    from orch_tui.orchestration import events as ev
    from tests.ui.scenario_engine import ScenarioEngine
    from tests.ui.ui_helpers import make_app

    engine = ScenarioEngine()
    engine.run_lanes(with_diffs=False)
    chunks = {lane: _file_diffs(lane) for lane in range(1, LANES + 1)}
    paths = {lane: tuple(f"src/lane{lane}/module_{n}.py" for n in range(MAX_FILES)) for lane in chunks}
    app = make_app(engine)
    gaps: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        stop = time.perf_counter() + STALL_SECONDS

        async def agents() -> None:
            tick, changed = 1 / FILES_PER_SECOND, 0
            while time.perf_counter() < stop:
                changed += 1  # every lane touches one more file (a whole new diff each time)
                files = min(changed, MAX_FILES)
                for lane in range(1, LANES + 1):
                    engine.emit(ev.LaneDiff(lane, engine.view.lanes[lane - 1].task_id or "",
                                            "".join(chunks[lane][:files]), paths[lane][:files]))
                await asyncio.sleep(tick)

        await asyncio.gather(measure_loop_gaps(stop, gaps), agents())
        await pilot.pause()
    return {"stall_ms": max(gaps) * 1000, "p99_ms": statistics.quantiles(gaps, n=100)[98] * 1000}


def _measure(kind: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_dashboard", kind],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> list[Result]:
    frames = [_measure("first-frame") for _ in range(RUNS)]
    stalls = [_measure("stall") for _ in range(RUNS)]
    first = statistics.median(f["first_frame_s"] for f in frames)
    memory = statistics.median(f["peak_mb"] for f in frames)
    stall = statistics.median(s["stall_ms"] for s in stalls)
    p99 = statistics.median(s["p99_ms"] for s in stalls)
    return [
        Result(f"first frame, {ISSUES} issues (median of {RUNS})", first, "s", f"<= {FIRST_FRAME_TARGET_S} s",
               first <= FIRST_FRAME_TARGET_S),
        Result(f"peak memory, {ISSUES} issues (process high-water mark)", memory, "MB",
               f"<= {MEMORY_TARGET_MB:.0f} MB", memory <= MEMORY_TARGET_MB),
        Result(f"longest loop stall, {LANES} lanes x {FILES_PER_SECOND} diffs/s", stall, "ms",
               f"<= {STALL_TARGET_MS:.0f} ms", stall <= STALL_TARGET_MS),
        Result("loop stall p99 (same runs)", p99, "ms"),
    ]


if __name__ == "__main__":
    kind = sys.argv[1]
    result = asyncio.run(_first_frame() if kind == "first-frame" else _stall())
    print(json.dumps(result))
