"""The synthetic tracker generator (used by benchmarks) gives what it promises."""

from __future__ import annotations

from pathlib import Path

from orch_tui.orchestration.tracker.beads import load_jsonl
from orch_tui.orchestration.planning.planner import find_cycles, make_plan

from tests.support.synthetic_graphs import synthetic_graph, synthetic_records, write_synthetic_jsonl


def edge_count(records: list[dict]) -> int:
    return sum(len(record.get("dependencies", [])) for record in records)


def test_it_has_n_issues_and_e_edges_and_is_deterministic() -> None:
    records = synthetic_records(500, 1500)
    assert len(records) == 500 and edge_count(records) == 1500
    assert records == synthetic_records(500, 1500)
    assert records != synthetic_records(500, 1500, seed=8)


def test_it_is_acyclic_unless_cycles_are_asked_for() -> None:
    assert find_cycles(synthetic_graph(2000, 6000)) == []
    cycles = find_cycles(synthetic_graph(2000, 6000, cycles=2))
    assert len(cycles) == 2


def test_the_jsonl_file_reads_back_cleanly_and_plans(tmp_path: Path) -> None:
    graph = load_jsonl(write_synthetic_jsonl(tmp_path / "issues.jsonl", 1000, 3000))
    assert len(graph) == 1000 and graph.problems == []
    result = make_plan(graph)
    assert 2 <= len(result.proposal.picked) <= 4
    assert result.plan["total_actionable"] > 0 and result.plan["total_blocked"] > 0
