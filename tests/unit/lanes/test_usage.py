"""Tokens and cost as people read them, budgets, and `orch-tui status --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orch_tui.app.cli import main
from orch_tui.orchestration.commands import LaneView
from orch_tui.orchestration.settings.config import load_config
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.engine.journal import Journal, JournalState, LaneRecord
from orch_tui.orchestration.agents.usage import Budget, batch_usage_line, usage_text
from tests.support.helpers import make_repo


def test_usage_text() -> None:
    assert usage_text(0, 0.0) == ""
    assert usage_text(240, 0.28) == "240 tok · $0.28"
    assert usage_text(12_345, 0.004) == "12k tok · $0.0040"
    assert usage_text(1_500, 0.0) == "1.5k tok"


def test_batch_usage_line_names_each_lane_that_spent() -> None:
    lanes = [LaneView(1, tokens=240, cost=0.28), LaneView(2), LaneView(3, tokens=1200, cost=1.5)]
    assert batch_usage_line(lanes) == "batch used 1.4k tok · $1.78 (lane 1 240 tok · $0.28, lane 3 1.2k tok · $1.50)"
    assert batch_usage_line([LaneView(1)]) is None


def test_budgets() -> None:
    assert Budget().exceeded(10**9, 10**6) is None
    assert Budget(max_tokens=100).exceeded(100, 0) is None
    assert "120 tokens > max_tokens_per_task 100" in (Budget(max_tokens=100).exceeded(120, 0) or "")
    assert "$0.5000 > max_cost_per_task $0.2500" in (Budget(max_cost=0.25).exceeded(0, 0.5) or "")


def test_budget_settings_are_checked(tmp_path: Path) -> None:
    (tmp_path / ".orch-tui.toml").write_text("max_tokens_per_task = 50000\nmax_cost_per_task = 1.5\n"
                                             'agent_permissions = "allow"\n')
    config = load_config(tmp_path)
    assert (config.max_tokens_per_task, config.max_cost_per_task, config.agent_permissions) == (50000, 1.5, "allow")
    (tmp_path / ".orch-tui.toml").write_text("\nmax_tokens_per_task = 1.5\n")
    with pytest.raises(BadInput, match="max_tokens_per_task must be a whole number") as raised:
        load_config(tmp_path)
    assert raised.value.problem.line == 2
    (tmp_path / ".orch-tui.toml").write_text('agent_permissions = "ask"\n')
    with pytest.raises(BadInput, match="agent_permissions must be one of reject, allow"):
        load_config(tmp_path)


def test_status_json_reports_each_lanes_tokens_and_cost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "repo", {".orch-tui.toml": 'agent_mail_url = "http://127.0.0.1:9/mcp/"\n'})
    Journal(repo).save(JournalState(state="running", batch=["t-1", "t-2"], lanes=[
        LaneRecord(1, "t-1", "orch/t-1", "/w1", "abc", tokens=240, cost=0.28),
        LaneRecord(2, "t-2", "orch/t-2", "/w2", "abc", tokens=120, cost=0.14)]))
    assert main(["status", "--json", "--repo", str(repo)]) == 0
    usage = json.loads(capsys.readouterr().out)["usage"]
    assert usage["tokens"] == 360 and usage["cost"] == pytest.approx(0.42)
    assert usage["lanes"][0] == {"lane": 1, "task_id": "t-1", "tokens": 240, "cost": 0.28}
    assert main(["status", "--repo", str(repo)]) == 0
    assert "batch used 360 tok · $0.42 (lane 1 240 tok · $0.28, lane 2 120 tok · $0.14)" in capsys.readouterr().out
