"""Files orch-tui writes get the person's umask and never a wider mode (SECURITY.md)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from orch_tui.orchestration.infra.atomic import current_umask, write_atomically
from orch_tui.orchestration.tracker.beads import JsonlStore
from tests.support.task_repos import TaskSpec, make_task_repo


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask  # the test sets the mask; it is put back afterwards
    os.umask(previous)


def _modes(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): stat.S_IMODE(path.lstat().st_mode)
            for path in root.rglob("*") if path.is_file() and not path.is_symlink()}


@pytest.mark.parametrize("mask", [0o077, 0o002])
def test_a_new_tracker_file_gets_the_umask(tmp_path: Path, umask, mask: int) -> None:
    umask(mask)
    assert current_umask() == mask
    (tmp_path / ".beads").mkdir()
    JsonlStore(tmp_path / ".beads" / "issues.jsonl").create("first task")
    write_atomically(tmp_path / "journal.json", b"{}")
    assert stat.S_IMODE((tmp_path / ".beads" / "issues.jsonl").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "journal.json").stat().st_mode) == 0o666 & ~mask


def test_a_rewritten_file_keeps_its_own_mode(tmp_path: Path, umask) -> None:
    umask(0o022)
    (tmp_path / ".beads").mkdir()
    path = tmp_path / ".beads" / "issues.jsonl"
    path.write_text('{"id":"bd-1","title":"x","status":"open"}\n')
    path.chmod(0o640)
    JsonlStore(path).update("bd-1", status="in_progress")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert '"in_progress"' in path.read_text()


@pytest.mark.slow  # a whole `orch-tui run` (about 3 s)
def test_nothing_a_run_writes_is_wider_than_the_umask(tmp_path: Path, umask) -> None:
    mask = 0o027
    umask(mask)
    repo = make_task_repo(tmp_path / "repo", [
        TaskSpec("bd-1", ("src/a.txt",), script={"steps": [{"write": "src/a.txt", "delay": 0}]})])
    result = subprocess.run(
        [sys.executable, "-m", "orch_tui.app", "run", "--repo", str(repo), "--yes",
         "--agent", "scripted", "--agent-mail", "http://127.0.0.1:9/mcp/"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "merged orch/bd-1" in result.stdout
    too_wide = {name: oct(mode) for name, mode in _modes(tmp_path).items() if mode & mask}
    assert not too_wide, f"files wider than umask {oct(mask)}: {too_wide}"
    assert stat.S_IMODE((repo / ".beads" / "issues.jsonl").stat().st_mode) == 0o640
    state = list((repo / ".git" / "orch-tui").rglob("*"))
    assert state, "the run wrote its journal under .git/orch-tui"
