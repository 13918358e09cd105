"""Synthetic Beads trackers of N issues and E dependency edges, for benchmarks and tests.

Deterministic for a given seed. The shape imitates a real tracker: most issues closed, a
mix of priorities and types, epics with children (`parent-child`), `blocks` chains that
mostly point at nearby, older issues (so there are many small work streams plus some long
ones), a few `related` / `discovered-from` edges that never block, and `Files:` lines on
about half the open tasks (a few areas, so some overlap). Blocking edges point from a newer
issue to an older one, so there are no cycles unless `cycles` asks for some.

    records = synthetic_records(10_000, 30_000)          # list of JSON-ready dicts
    path = write_synthetic_jsonl(tmp / "issues.jsonl", 10_000, 30_000)
    graph = synthetic_graph(10_000, 30_000)              # TaskGraph, via the real record reader
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from orch_tui.orchestration.tracker.beads_records import task_from_record
from orch_tui.orchestration.model import TaskGraph

_START = datetime(2025, 1, 1, tzinfo=timezone.utc)
_AREAS = ("src/api", "src/ui", "src/core", "src/store", "docs", "tests", "cli", "pkg/net")
_TYPES = ("task",) * 6 + ("bug",) * 2 + ("feature", "chore")
_NEARBY = 40
"""Most blocking edges point at one of the previous 40 issues, as work streams do."""


def _status(rng: random.Random, closed_fraction: float) -> str:
    if rng.random() < closed_fraction:
        return "closed"
    return rng.choice(("open",) * 7 + ("in_progress", "blocked", "deferred"))


def _description(rng: random.Random, number: int) -> str:
    text = f"Synthetic issue {number}."
    if rng.random() < 0.5:
        area = rng.choice(_AREAS)
        files = [f"{area}/**"] if rng.random() < 0.3 else [f"{area}/file{rng.randrange(50)}.py"]
        text += "\n\nFiles: " + ", ".join(files)
    return text


def _record(rng: random.Random, number: int, prefix: str, closed_fraction: float) -> dict[str, Any]:
    stamp = (_START + timedelta(minutes=number)).isoformat().replace("+00:00", "Z")
    record: dict[str, Any] = {
        "id": f"{prefix}-{number:05d}",
        "title": f"Synthetic issue {number}",
        "description": _description(rng, number),
        "status": _status(rng, closed_fraction),
        "priority": rng.choice((0, 1, 1, 2, 2, 2, 2, 3, 3, 4)),
        "issue_type": "epic" if number % 50 == 0 else rng.choice(_TYPES),
        "created_at": stamp,
        "updated_at": stamp,
    }
    if record["status"] == "closed":
        record["closed_at"] = stamp
    return record


def _edge(rng: random.Random, records: list[dict[str, Any]], prefix: str) -> tuple[int, int, str]:
    """(issue index, depends-on index, type) with depends-on older than issue."""
    issue = rng.randrange(1, len(records))
    roll = rng.random()
    if roll < 0.15:  # child of the nearest older epic
        epic = issue - issue % 50 if issue % 50 else issue - 50
        if epic >= 0:
            return issue, epic, "parent-child"
    if roll < 0.25:
        return issue, rng.randrange(issue), rng.choice(("related", "discovered-from"))
    low = max(0, issue - _NEARBY) if rng.random() < 0.9 else 0
    return issue, rng.randrange(low, issue), "blocks"


def synthetic_records(issues: int, edges: int, *, seed: int = 7, prefix: str = "syn",
                      closed_fraction: float = 0.6, cycles: int = 0) -> list[dict[str, Any]]:
    """`issues` issue records holding `edges` distinct dependency edges in total.

    `cycles` adds that many 3-issue blocking cycles among open issues (each adds 3 edges,
    counted in `edges`).
    """
    rng = random.Random(seed)
    records = [_record(rng, number, prefix, closed_fraction) for number in range(issues)]
    seen: set[tuple[int, int]] = set()
    deps: list[tuple[int, int, str]] = []
    for cycle in range(cycles):
        members = [issues - 3 * cycle - offset - 1 for offset in range(3)]
        for position, member in enumerate(members):
            records[member]["status"] = "open"
            target = members[(position + 1) % 3]
            seen.add((member, target))
            deps.append((member, target, "blocks"))
    limit = min(edges, issues * (issues - 1) // 2)
    while len(deps) < limit:
        issue, target, kind = _edge(rng, records, prefix)
        if (issue, target) not in seen:
            seen.add((issue, target))
            deps.append((issue, target, kind))
    for issue, target, kind in deps:
        records[issue].setdefault("dependencies", []).append({
            "issue_id": records[issue]["id"], "depends_on_id": records[target]["id"],
            "type": kind, "created_at": records[issue]["created_at"], "created_by": "synthetic"})
    return records


def write_synthetic_jsonl(path: Path, issues: int, edges: int, **options: Any) -> Path:
    """The records of `synthetic_records` as a Beads JSONL file at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(record, separators=(",", ":")) for record in synthetic_records(issues, edges, **options))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def synthetic_graph(issues: int, edges: int, **options: Any) -> TaskGraph:
    """The records of `synthetic_records` as a TaskGraph (read by the real record reader)."""
    graph = TaskGraph(source=f"synthetic:{issues}x{edges}")
    for record in synthetic_records(issues, edges, **options):
        task = task_from_record(record)
        graph.tasks[task.id] = task
    return graph
