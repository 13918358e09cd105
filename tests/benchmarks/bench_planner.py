"""Planner speed: load + plan (bv plan object and the proposed batch) of

* the real 1,955-issue Beads tracker (target <= 100 ms),
* a synthetic 10k-issue / 30k-edge tracker (target <= 0.5 s),
* a synthetic 20k-issue / 60k-edge tracker (target <= 2.2x the 10k time, same run).

"load" is `load_jsonl` (what the JSONL store does); "plan" is `make_plan`, which is what
`orch-tui plan` computes. Plan-only medians are printed too, so the planner's share shows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from orch_tui.orchestration.beads import load_jsonl
from orch_tui.orchestration.planner import make_plan
from tests.benchmarks.harness import Result, median_seconds
from tests.helpers import DATA_DIR
from tests.synthetic_graphs import write_synthetic_jsonl

REAL = DATA_DIR / "beads-v0.47.0.issues.jsonl"
REPEAT = 7


def _load_and_plan(path: Path) -> None:
    make_plan(load_jsonl(path))


def _measure(name: str, path: Path, target: float | None) -> tuple[float, list[Result]]:
    total = median_seconds(lambda: _load_and_plan(path), repeat=REPEAT)
    graph = load_jsonl(path)
    plan_only = median_seconds(lambda: make_plan(graph), repeat=REPEAT)
    results = [
        Result(f"load+plan {name}", total * 1000, "ms",
               f"<= {target * 1000:.0f} ms" if target else "", total <= target if target else None),
        Result(f"  plan only {name}", plan_only * 1000, "ms"),
    ]
    return total, results


def run() -> list[Result]:
    results: list[Result] = []
    _, real = _measure("real 1,955 issues", REAL, 0.100)
    results += real
    with tempfile.TemporaryDirectory(prefix="bench-planner-") as folder:
        ten = write_synthetic_jsonl(Path(folder) / "10k.jsonl", 10_000, 30_000)
        twenty = write_synthetic_jsonl(Path(folder) / "20k.jsonl", 20_000, 60_000)
        ten_time, ten_results = _measure("synthetic 10k issues / 30k edges", ten, 0.5)
        twenty_time, twenty_results = _measure("synthetic 20k issues / 60k edges", twenty, None)
    ratio = twenty_time / ten_time
    results += ten_results + twenty_results
    results.append(Result("load+plan 20k / 10k", ratio, "x", "<= 2.2x", ratio <= 2.2))
    return results
