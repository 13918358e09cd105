"""The bd store, against a stub `bd` on PATH that prints bd's documented --json shapes."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from orch_tui.orchestration.tracker.beads import BdError, BdStore, open_store
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.model import Dependency

STUB = Path(__file__).resolve().parents[2] / "stubs" / "bd"

ISSUES = [
    {"id": "bd-a1", "title": "Epic", "status": "open", "priority": 1, "issue_type": "epic",
     "created_at": "2026-04-18T16:19:12Z", "updated_at": "2026-04-18T16:19:12Z",
     "dependency_count": 0, "dependent_count": 1, "comment_count": 0},
    {"id": "bd-a1.1", "title": "Child <task>", "status": "open", "priority": 2,
     "issue_type": "task", "description": "Files: src/**",
     "created_at": "2026-04-18T16:19:12Z", "updated_at": "2026-04-18T16:19:12Z",
     "dependencies": [{"issue_id": "bd-a1.1", "depends_on_id": "bd-a1", "type": "parent-child",
                       "created_at": "2026-04-18T16:19:12Z", "created_by": "ann"},
                      {"issue_id": "bd-a1.1", "depends_on_id": "bd-b2", "type": "blocks",
                       "created_at": "2026-04-18T16:19:12Z", "created_by": "ann"}],
     "comments": [{"id": "c-1", "issue_id": "bd-a1.1", "author": "ann", "text": "hi",
                   "created_at": "2026-04-18T16:19:12Z"}]},
    {"id": "bd-b2", "title": "Done", "status": "closed", "priority": 0, "issue_type": "bug",
     "created_at": "2026-04-18T16:19:12Z", "updated_at": "2026-04-18T16:19:12Z",
     "closed_at": "2026-04-18T17:00:00Z", "close_reason": "fixed"},
]


@dataclass
class StubBd:
    bin_dir: Path
    state: Path
    log: Path

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def issues(self) -> dict[str, dict]:
        return {issue["id"]: issue for issue in json.loads(self.state.read_text())}


@pytest.fixture
def stub_bd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StubBd:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = STUB.read_text(encoding="utf-8").split("\n", 1)[1]
    executable = bin_dir / "bd"
    executable.write_text(f"#!{sys.executable}\n{script}", encoding="utf-8")
    executable.chmod(0o755)
    stub = StubBd(bin_dir, tmp_path / "bd-state.json", tmp_path / "bd-argv.log")
    stub.state.write_text(json.dumps(ISSUES))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("BD_STUB_STATE", str(stub.state))
    monkeypatch.setenv("BD_STUB_LOG", str(stub.log))
    monkeypatch.delenv("BD_STUB_BROKEN", raising=False)
    monkeypatch.delenv("BD_STUB_LIST_COUNTS_ONLY", raising=False)
    return stub


@pytest.fixture
def beads_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".beads" / "embeddeddolt").mkdir(parents=True)
    return repo


def test_bd_on_path_is_chosen_and_reported(stub_bd: StubBd, beads_repo: Path) -> None:
    store = open_store(beads_repo)

    assert store.kind == "bd"
    assert store.description == f"bd 1.0.2 CLI ({stub_bd.bin_dir / 'bd'})"
    assert stub_bd.calls() == [["version"], ["list", "--json", "--limit", "1"]]


def test_jsonl_can_be_forced_even_with_bd_on_path(stub_bd: StubBd, tmp_path: Path) -> None:
    (tmp_path / "r" / ".beads").mkdir(parents=True)
    assert open_store(tmp_path / "r", prefer="jsonl").kind == "jsonl"
    assert stub_bd.calls() == []


def test_broken_bd_falls_back_to_jsonl_and_says_why(stub_bd: StubBd, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BD_STUB_BROKEN", "1")
    repo = tmp_path / "r"
    (repo / ".beads").mkdir(parents=True)
    (repo / ".beads" / "issues.jsonl").write_text('{"id":"x-1","title":"t"}\n')

    store = open_store(repo)

    assert store.kind == "jsonl"
    assert "bd on PATH did not answer" in store.description
    assert "no beads database found" in store.description
    with pytest.raises(BadInput, match="does not work"):
        open_store(repo, prefer="bd")


def test_prefer_bd_without_bd_is_bad_input(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (tmp_path / ".beads").mkdir()
    with pytest.raises(BadInput, match="not on PATH"):
        open_store(tmp_path, prefer="bd")


def test_load_reads_the_list_array(stub_bd: StubBd, beads_repo: Path) -> None:
    graph = open_store(beads_repo).load()

    assert set(graph.tasks) == {"bd-a1", "bd-a1.1", "bd-b2"} and graph.problems == []
    child = graph.tasks["bd-a1.1"]
    assert child.dependencies == (Dependency("bd-a1.1", "bd-a1", "parent-child"),
                                  Dependency("bd-a1.1", "bd-b2", "blocks"))
    assert child.declared_files == ("src/**",)
    assert child.raw["comments"][0]["id"] == "c-1"
    assert graph.tasks["bd-b2"].close_reason == "fixed"
    assert ["list", "--json", "--all", "--limit", "0"] in stub_bd.calls()


def test_load_fetches_edges_when_list_gives_only_counts(stub_bd: StubBd, beads_repo: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BD_STUB_LIST_COUNTS_ONLY", "1")
    graph = open_store(beads_repo).load()

    assert graph.tasks["bd-a1.1"].dependencies == (
        Dependency("bd-a1.1", "bd-a1", "parent-child"), Dependency("bd-a1.1", "bd-b2", "blocks"))
    assert stub_bd.calls()[-1] == ["show", "bd-a1.1", "--json"]


def test_update_and_close_send_the_documented_arguments(stub_bd: StubBd,
                                                        beads_repo: Path) -> None:
    store = open_store(beads_repo)

    store.update("bd-a1.1", status="in_progress", assignee="lane-2", note="started")
    store.update("bd-a1.1", status="closed", close_reason="merged", note="done")

    assert stub_bd.calls()[2:] == [
        ["update", "bd-a1.1", "--status", "in_progress", "--assignee", "lane-2",
         "--append-notes", "started", "--json"],
        ["update", "bd-a1.1", "--append-notes", "done", "--json"],
        ["close", "bd-a1.1", "--reason", "merged", "--json"],
    ]
    task = store.load().tasks["bd-a1.1"]
    assert (task.status, task.assignee, task.close_reason) == ("closed", "lane-2", "merged")
    assert task.notes == "started\ndone"


def test_create_and_dependency(stub_bd: StubBd, beads_repo: Path) -> None:
    store = open_store(beads_repo)

    new_id = store.create("New work", description="Files: docs/**", priority=1,
                          issue_type="feature", labels=["a", "b"], external_ref="gh-9",
                          parent="bd-a1")
    store.add_dependency(new_id, "bd-b2", type="blocks")

    assert new_id == "stub-4"
    assert stub_bd.calls()[2:] == [
        ["create", "-t", "feature", "-p", "1", "-d", "Files: docs/**",
         "-l", "a,b", "--external-ref", "gh-9", "--parent", "bd-a1", "--json", "--", "New work"],
        ["dep", "add", "stub-4", "bd-b2", "-t", "blocks", "--json"],
    ]
    task = store.load().tasks[new_id]
    assert task.labels == ("a", "b") and task.declared_files == ("docs/**",)
    assert {dep.depends_on_id for dep in task.dependencies} == {"bd-a1", "bd-b2"}


def test_bd_error_json_becomes_orch_error_with_bds_message(stub_bd: StubBd,
                                                           beads_repo: Path) -> None:
    store = open_store(beads_repo)

    with pytest.raises(BdError, match="issue not found: bd-zz") as caught:
        store.update("bd-zz", status="in_progress")
    assert caught.value.code == "not_found" and caught.value.exit_code == 1
    with pytest.raises(BdError, match="already closed"):
        store.update("bd-b2", status="closed")
    with pytest.raises(BadInput, match="only when closing"):
        store.update("bd-a1", close_reason="why")


def test_bd_timeout_is_reported(stub_bd: StubBd, beads_repo: Path, tmp_path: Path) -> None:
    slow = tmp_path / "slow-bd"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    slow.chmod(0o755)
    with pytest.raises(BdError, match="did not finish within 1 s"):
        BdStore(beads_repo, str(slow)).run("list", "--json", timeout=1)


def test_a_title_that_looks_like_an_option_stays_a_title(stub_bd: StubBd, beads_repo: Path) -> None:
    store = open_store(beads_repo)
    new_id = store.create("--db=/tmp/elsewhere -p 0", description="--json")
    assert stub_bd.calls()[-1][-2:] == ["--", "--db=/tmp/elsewhere -p 0"]
    assert store.load().tasks[new_id].title == "--db=/tmp/elsewhere -p 0"
    with pytest.raises(BadInput):
        store.update("--db=/tmp/elsewhere", status="in_progress")
