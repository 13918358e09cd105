"""Beads store speed: loading the real 1,955-issue tracker and a synthetic 10k/30k one,
and one atomic update of the real file.

Targets (the planner's share comes on top, see bench_planner): load + plan of the real file
within 25 ms, so loading gets 22 ms; load_jsonl of a 10k-issue / 30k-edge file within 150 ms.
CPU-time medians are printed beside the wall-clock ones: the machine is shared.
"""

from __future__ import annotations

import gc
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from orch_tui.orchestration.infra.gc_pause import gc_paused
from orch_tui.orchestration.tracker.beads import JsonlStore, load_jsonl
from orch_tui.orchestration.tracker.beads_jsonl import _is_utf8, _report_unsafe
from orch_tui.orchestration.tracker.beads_records import decode_issue_line, task_from_line
from tests.benchmarks.harness import Result, median_seconds
from tests.support.helpers import DATA_DIR

REAL = DATA_DIR / "beads-v0.47.0.issues.jsonl"
STATUSES = ["open"] * 5 + ["closed"] * 4 + ["in_progress", "tombstone"]
DEP_TYPES = ["blocks"] * 6 + ["parent-child"] * 3 + ["related"]


def write_synthetic_tracker(path: Path, issues: int = 10_000, edges: int = 30_000,
                            seed: int = 7) -> Path:
    """A Beads JSONL file shaped like the real one (old-dialect timestamps, descriptions),
    with `edges` dependencies that always point at an earlier issue (acyclic)."""
    rng = random.Random(seed)
    deps: list[list[dict]] = [[] for _ in range(issues)]
    for _ in range(edges):
        source = rng.randrange(1, issues)
        target = rng.randrange(max(0, source - 200), source)
        deps[source].append({"issue_id": f"bd-{source:05x}", "depends_on_id": f"bd-{target:05x}",
                             "type": rng.choice(DEP_TYPES),
                             "created_at": "2025-11-02T22:23:49.475356-08:00",
                             "created_by": "bench"})
    with path.open("w", encoding="utf-8") as handle:
        for number in range(issues):
            record = {"id": f"bd-{number:05x}", "title": f"Synthetic issue {number}",
                      "description": f"Work item {number}.\nFiles: src/mod{number % 97}/**\n" * 3,
                      "status": rng.choice(STATUSES), "priority": rng.randrange(5),
                      "issue_type": "task", "created_at": "2025-11-02T21:58:07.295058-08:00",
                      "updated_at": "2025-11-03T20:56:22.700641-08:00"}
            if deps[number]:
                record["dependencies"] = deps[number]
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")
    return path


def _median_cpu_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _gc_paused(step: Callable[[], object]) -> Callable[[], object]:
    """`step` as the load runs it: with the cyclic garbage collector paused."""
    def paused() -> object:
        with gc_paused():
            return step()
    return paused


def _where_the_load_goes(path: Path) -> list[Result]:
    """The 10k load's steps, each timed alone (CPU-time medians), and what it leaves for the
    garbage collector to scan: the picture to change when the load is too slow."""
    data = path.read_bytes()
    lines = [line for line in data.split(b"\n") if line]
    fields = [decode_issue_line(line) for line in lines]
    by_dict = sum(1 for item, line in zip(fields, lines) if task_from_line(item, line) is None)
    graph = load_jsonl(path)
    line_of = {task_id: number for number, task_id in enumerate(graph.tasks)}
    steps = [
        ("split into lines, check UTF-8", lambda: [_is_utf8(line) for line in data.split(b"\n")]),
        ("decode lines into typed fields (msgspec)", lambda: [decode_issue_line(line) for line in lines]),
        ("build Tasks from the fields", lambda: [task_from_line(item, line) for item, line in zip(fields, lines)]),
        ("check ids and Files: lines (unsafe ones)", lambda: _report_unsafe(path, graph, line_of)),
    ]
    results = [Result(f"  step: {name}", _median_cpu_seconds(_gc_paused(step), 5) * 1000, "ms CPU")
               for name, step in steps]
    results.append(Result("  lines read through a dict instead (odd shapes)", by_dict, "lines"))
    gc.collect()
    gc.disable()  # count them before the first collection looks at (and drops) some
    try:
        before = len(gc.get_objects())
        kept = load_jsonl(path)
        left = len(gc.get_objects()) - before
    finally:
        gc.enable()
    results.append(Result("  objects a load leaves for the garbage collector", left, ""))
    del kept
    return results


def run() -> list[Result]:
    results: list[Result] = []
    real = median_seconds(lambda: load_jsonl(REAL), repeat=15)
    results.append(Result("load_jsonl 1,955-issue real tracker (median)", real * 1000, "ms",
                          "<= 22 ms", real <= 0.022))
    results.append(Result("  same, CPU time", _median_cpu_seconds(lambda: load_jsonl(REAL), 15) * 1000, "ms"))
    with tempfile.TemporaryDirectory() as folder:
        big = write_synthetic_tracker(Path(folder) / "issues.jsonl")
        graph = load_jsonl(big)
        edges = sum(len(task.dependencies) for task in graph.tasks.values())
        large = median_seconds(lambda: load_jsonl(big), repeat=5)
        results.append(Result(f"load_jsonl {len(graph):,} issues / {edges:,} edges (median)",
                              large * 1000, "ms", "<= 150 ms", large <= 0.150))
        results.append(Result("  same, CPU time", _median_cpu_seconds(lambda: load_jsonl(big), 5) * 1000, "ms"))
        results.append(Result("  ratio large / real", large / real, "x"))
        results += _where_the_load_goes(big)

        copy = Path(folder) / ".beads" / "issues.jsonl"
        copy.parent.mkdir()
        shutil.copyfile(REAL, copy)
        store = JsonlStore(copy)
        update = median_seconds(lambda: store.update("bd-1e12", note="bench"), repeat=7)
        results.append(Result("JsonlStore.update on the real tracker (median)", update * 1000,
                              "ms", "< 150 ms", update < 0.150))
    return results
