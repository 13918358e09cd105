"""`orch-tui plan`: human output, `--json`, batch size, warnings and exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orch_tui.app.cli import main
from orch_tui.orchestration.tracker.beads import load_jsonl
from orch_tui.orchestration.planning.planner import robot_plan

from tests.support.helpers import copy_data


def tracker(repo: Path, *records: dict, extra: str = "") -> Path:
    beads = repo / ".beads"
    beads.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(record) + "\n" for record in records) + extra
    (beads / "issues.jsonl").write_text(text, encoding="utf-8")
    return repo


def issue(task_id: str, priority: int = 2, files: str = "", deps: tuple[str, ...] = (), **fields) -> dict:
    record = {"id": task_id, "title": f"Title of {task_id}", "status": "open", "priority": priority,
              "issue_type": "task", "description": f"Files: {files}" if files else ""}
    record["dependencies"] = [{"issue_id": task_id, "depends_on_id": dep, "type": "blocks"} for dep in deps]
    record.update(fields)
    return record


def plan(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["plan", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_human_output_shows_batch_left_out_tracks_cycles_and_store(tmp_path: Path, capsys) -> None:
    repo = tracker(tmp_path, issue("bd-7", 1, "src/api/**"), issue("bd-8", 2, "src/api/x.py"),
                   issue("bd-9", 2, "docs/**"), issue("bd-12", 3, "lib/**"), issue("bd-13", 0, "q/**", deps=("bd-12",)),
                   issue("bd-20", deps=("bd-21",)), issue("bd-21", deps=("bd-20",)))
    code, out, err = plan(capsys, "--repo", str(repo))
    assert code == 0 and err == ""
    batch = out.split("Left out")[0]
    assert "Proposed batch: 3 of up to 4 tasks" in batch
    assert re.search(r"lane 1 +bd-7  P1  Title of bd-7", batch)
    assert "files: src/api/**" in batch
    assert re.search(r"lane 3 +bd-12  P3", batch)
    assert "why not: overlaps bd-7 on src/api/x.py / src/api/**" in out
    assert "why not: blocked by bd-12" in out
    assert "Tracks (bv robot-plan): " in out
    assert "bd-20 -> bd-21 -> bd-20" in out
    assert "Store: Beads JSONL file .beads/issues.jsonl, 7 issues" in out


def test_json_is_one_object_with_the_bv_plan_and_the_batch(tmp_path: Path, capsys) -> None:
    repo = tmp_path / "repo"
    copy_data("beads-v0.47.0.issues.jsonl", repo / ".beads" / "issues.jsonl")
    code, out, err = plan(capsys, "--repo", str(repo), "--json", "--batch-size", "3")
    assert code == 0 and err == ""
    document = json.loads(out)
    assert list(document) == ["generated_at", "plan", "batch"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["generated_at"])
    assert document["plan"] == robot_plan(load_jsonl(repo / ".beads" / "issues.jsonl"))
    assert list(document["batch"]) == ["batch_size", "picked", "left_out", "cycles"]
    assert document["batch"]["batch_size"] == 3
    assert [choice["task_id"] for choice in document["batch"]["picked"]] == ["bd-ee1"]


def test_the_top_level_repo_option_works_too(tmp_path: Path, capsys) -> None:
    tracker(tmp_path, issue("a-1", files="a/**"))
    assert main(["--repo", str(tmp_path), "plan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["batch"]["picked"][0]["task_id"] == "a-1"


@pytest.mark.parametrize("size", ["1", "7", "0"])
def test_a_bad_batch_size_exits_2_with_the_allowed_range(tmp_path: Path, capsys, size: str) -> None:
    code, out, err = plan(capsys, "--repo", str(tracker(tmp_path, issue("a-1"))), "--batch-size", size)
    assert code == 2 and out == ""
    assert "2..6" in err


def test_the_batch_size_comes_from_the_repository_config(tmp_path: Path, capsys) -> None:
    repo = tracker(tmp_path, *(issue(f"a-{n}", files=f"d{n}/**") for n in range(5)))
    (repo / ".orch-tui.toml").write_text("batch_size = 2\n", encoding="utf-8")
    code, out, _ = plan(capsys, "--repo", str(repo), "--json")
    assert code == 0 and len(json.loads(out)["batch"]["picked"]) == 2
    (repo / ".orch-tui.toml").write_text("batch_size = 9\n", encoding="utf-8")
    code, out, err = plan(capsys, "--repo", str(repo))
    assert code == 2 and ".orch-tui.toml" in err


def test_no_tracker_exits_2_and_says_how_to_create_one(tmp_path: Path, capsys) -> None:
    code, out, err = plan(capsys, "--repo", str(tmp_path))
    assert code == 2 and out == ""
    assert ".beads" in err and "bd init" in err


def test_a_missing_repo_exits_2(tmp_path: Path, capsys) -> None:
    code, _, err = plan(capsys, "--repo", str(tmp_path / "nowhere"))
    assert code == 2 and "no such directory" in err


def test_malformed_lines_are_warnings_with_path_and_line_and_exit_stays_0(tmp_path: Path, capsys) -> None:
    repo = tracker(tmp_path, issue("a-1", files="a/**"), extra="{not json\n")
    code, out, err = plan(capsys, "--repo", str(repo))
    assert code == 0
    assert re.search(r"warning: .*issues\.jsonl:2: not valid JSON", err)
    assert "lane 1" in out


def test_titles_with_escapes_and_markup_are_shown_literally(tmp_path: Path, capsys) -> None:
    title = "Evil \x1b[2J\x1b[31mred[/] [bold]x[/bold]\u202etxt.exe\r"
    repo = tracker(tmp_path, issue("a-1", files="a/**", title=title))
    code, out, _ = plan(capsys, "--repo", str(repo))
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    assert r"Evil \x1b[2J\x1b[31mred[/] [bold]x[/bold]\u202etxt.exe\r" in out


def test_long_left_out_lists_are_cut_with_a_count(tmp_path: Path, capsys) -> None:
    repo = tracker(tmp_path, *(issue(f"a-{n:02d}", files="same/**") for n in range(20)))
    code, out, _ = plan(capsys, "--repo", str(repo))
    assert code == 0
    assert "Left out: 19" in out
    assert "... 4 more (`orch-tui plan --json` lists all)" in out


def test_an_empty_tracker_plans_nothing(tmp_path: Path, capsys) -> None:
    code, out, _ = plan(capsys, "--repo", str(tracker(tmp_path)))
    assert code == 0
    assert "Proposed batch: 0 of up to 4 tasks" in out and "Cycles: none" in out


def test_help_and_version_work() -> None:
    for argv in (["plan", "--help"], ["--version"]):
        result = subprocess.run([sys.executable, "-m", "orch_tui.app", *argv],
                                capture_output=True, text=True, check=True)
        assert result.stdout
    help_text = subprocess.run([sys.executable, "-m", "orch_tui.app", "plan", "--help"],
                               capture_output=True, text=True).stdout
    assert "--json" in help_text and "--batch-size" in help_text
