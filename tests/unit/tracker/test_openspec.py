"""`orch-tui import-openspec`: OpenSpec change tasks become Beads tasks, once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from orch_tui.app.cli import main
from orch_tui.orchestration.tracker.beads import open_store
from orch_tui.orchestration.model import TaskGraph
from orch_tui.orchestration.tracker.openspec import (declared_files, import_change, parse_tasks_file,
                                             read_change)
from tests.support.helpers import make_repo, openspec_binary

TASKS_MD = """## 1. Database
- [ ] 1.1 Add the users table (Files: db/schema.sql)
- [x] 1.2 Pick a password hash
- [ ] 1.3 Add the `db/users.py` model

Notes for reviewers are not tasks.

## 2. API
- [ ] 2.1 Add the login endpoint
  Files: src/api/login.py, src/api/session/**
- [X] 2.2 Document the error codes
- [ ] 2.3 Rate-limit login attempts (depends on 2.1)

## 3. Docs (parallel)
- [ ] 3.1 Write docs/auth.md
"""


def blockers(graph: TaskGraph, task_id: str) -> set[str]:
    return {dep.depends_on_id for dep in graph.tasks[task_id].dependencies if dep.blocks}


def by_ref(graph: TaskGraph) -> dict[str, str]:
    return {task.raw["external_ref"]: task.id for task in graph.tasks.values()
            if task.raw.get("external_ref")}


def test_tasks_file_groups_checkboxes_details_and_annotations() -> None:
    tasks = parse_tasks_file(TASKS_MD)
    assert [(t.number, t.done, t.group) for t in tasks] == [
        ("1.1", False, 1), ("1.2", True, 1), ("1.3", False, 1), ("2.1", False, 2),
        ("2.2", True, 2), ("2.3", False, 2), ("3.1", False, 3)]
    first, _, model, login, _, limit, docs = tasks
    assert first.text == "Add the users table" and first.declared_files == ("db/schema.sql",)
    assert model.declared_files == ("db/users.py",)
    assert login.declared_files == ("src/api/login.py", "src/api/session/**")
    assert limit.depends_on == ("2.1",) and limit.text == "Rate-limit login attempts"
    assert login.depends_on is None
    assert docs.independent_group


def test_declared_files_ignore_backticked_words_that_are_not_paths() -> None:
    assert declared_files("Rename `UserId` to `user_id` in `src/models.py`") == ("src/models.py",)
    assert declared_files("Run `make test`") == ()


def openspec_project(tmp_path: Path, change_id: str, tasks_md: str) -> tuple[Path, Path]:
    """A git repository with a real `openspec init` and `openspec new change`."""
    binary = openspec_binary()
    repo = make_repo(tmp_path / "repo")
    env = {**os.environ, "OPENSPEC_TELEMETRY": "0", "DO_NOT_TRACK": "1",
           "HOME": str(tmp_path / "home")}
    for argv in (["init", "--tools", "opencode", "."], ["new", "change", change_id]):
        subprocess.run([str(binary), *argv], cwd=repo, env=env, check=True,
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    change = repo / "openspec" / "changes" / change_id
    (change / "proposal.md").write_text("## Why\nUsers need accounts.\n")
    (change / "tasks.md").write_text(tasks_md)
    (repo / ".beads").mkdir()
    return repo, binary


@pytest.mark.slow
@pytest.mark.openspec
def test_import_through_the_real_cli_creates_tasks_dependencies_and_links(
        tmp_path: Path) -> None:
    repo, binary = openspec_project(tmp_path, "add-auth", TASKS_MD)
    change = read_change(repo, "add-auth", binary=str(binary))
    assert change.source.startswith("openspec CLI")
    store = open_store(repo)
    result = import_change(repo, change, store)
    assert sorted(result.created) == ["1.1", "1.3", "2.1", "2.3", "3.1"]
    assert result.skipped_done == 2

    graph = store.load()
    ids = {ref.split("#")[1]: task_id for ref, task_id in by_ref(graph).items()}
    assert blockers(graph, ids["1.1"]) == set()
    assert blockers(graph, ids["2.1"]) == {ids["1.1"], ids["1.3"]}
    assert blockers(graph, ids["2.3"]) == {ids["2.1"]}, "the change said otherwise"
    assert blockers(graph, ids["3.1"]) == set(), "a (parallel) group waits for nothing"
    login = graph.tasks[ids["2.1"]]
    assert login.title == "Add the login endpoint"
    assert login.declared_files == ("src/api/login.py", "src/api/session/**")
    assert "OpenSpec change: add-auth (openspec/changes/add-auth/tasks.md, task 2.1" in \
        login.description
    assert login.raw["external_ref"] == "openspec:add-auth#2.1"


@pytest.mark.slow
@pytest.mark.openspec
def test_rerun_adds_nothing_twice_and_picks_up_new_tasks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    repo, binary = openspec_project(tmp_path, "add-auth", TASKS_MD)
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert main(["import-openspec", "add-auth", "--repo", str(repo)]) == 0
    first = capsys.readouterr().out
    assert "read through openspec CLI" in first and first.count("created ") == 5
    jsonl = (repo / ".beads" / "issues.jsonl").read_text()

    assert main(["import-openspec", "add-auth", "--repo", str(repo)]) == 0
    assert "nothing new to import" in capsys.readouterr().out
    assert (repo / ".beads" / "issues.jsonl").read_text() == jsonl

    tasks_md = repo / "openspec" / "changes" / "add-auth" / "tasks.md"
    tasks_md.write_text(tasks_md.read_text().replace(
        "## 3. Docs", "- [ ] 2.4 Lock accounts after failures\n\n## 3. Docs"))
    assert main(["import-openspec", "add-auth", "--repo", str(repo)]) == 0
    graph = open_store(repo).load()
    refs = by_ref(graph)
    assert len(refs) == 6
    assert blockers(graph, refs["openspec:add-auth#2.4"]) == {
        refs["openspec:add-auth#1.1"], refs["openspec:add-auth#1.3"]}


def test_without_the_cli_the_files_are_read(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    change = repo / "openspec" / "changes" / "tidy-up"
    change.mkdir(parents=True)
    (change / "tasks.md").write_text("## 1. One\n- [ ] 1.1 First\n## 2. Two\n- [ ] 2.1 Second\n")
    (repo / ".beads").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no openspec, no bd
    read = read_change(repo, "tidy-up")
    assert read.source == "files"
    store = open_store(repo)
    result = import_change(repo, read, store)
    graph = store.load()
    assert blockers(graph, result.created["2.1"]) == {result.created["1.1"]}


def test_missing_beads_store_says_how_to_create_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "repo")
    assert main(["import-openspec", "add-auth", "--repo", str(repo)]) == 2
    error = capsys.readouterr().err
    assert ".beads" in error and "bd init" in error


def test_unknown_change_and_unsafe_ids_are_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".beads").mkdir()
    (repo / "openspec" / "changes" / "real-one").mkdir(parents=True)
    assert main(["import-openspec", "nope", "--repo", str(repo)]) == 2
    assert "real-one" in capsys.readouterr().err
    assert main(["import-openspec", "../../etc", "--repo", str(repo)]) == 2
    assert "not an OpenSpec change id" in capsys.readouterr().err


def test_checkbox_forms_the_openspec_cli_counts_are_tasks() -> None:
    text = ("## 1. Setup\n- [ ] 1.1 Parent\n  - [ ] 1.1.1 Nested\n* [ ] 1.2 Star bullet\n"
            "1. [ ] Numbered list item\n- [ ]  1.3 Extra space\n  - not a task\n")
    tasks = parse_tasks_file(text)
    assert [(t.number, t.text) for t in tasks] == [
        ("1.1", "Parent"), ("1.1.1", "Nested"), ("1.2", "Star bullet"),
        ("4", "Numbered list item"), ("1.3", "Extra space")]
    assert tasks[-1].details == ["- not a task"]


@pytest.mark.slow
@pytest.mark.openspec
def test_cli_and_file_reading_agree_on_every_checkbox_form(tmp_path: Path) -> None:
    text = ("## 1. Setup\n- [ ] 1.1 Parent\n  - [ ] 1.1.1 Nested\n* [x] 1.2 Star bullet\n"
            "1. [ ] Numbered list item\n- [ ]  1.3 Extra space\n")
    repo, binary = openspec_project(tmp_path, "forms", text)
    through_cli = read_change(repo, "forms", binary=str(binary))
    assert through_cli.source.startswith("openspec CLI")
    from_files = parse_tasks_file(text)
    assert [(t.number, t.text, t.done, t.group_title) for t in through_cli.tasks] == \
        [(t.number, t.text, t.done, t.group_title) for t in from_files]
