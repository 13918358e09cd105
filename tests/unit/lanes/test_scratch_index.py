"""A refresh that stages only the paths the watcher reported shows exactly what a full scan
shows: deleted files and folders, files in new folders, renames, binaries, ignored files left
out, temporary files that came and went, odd names; and scans everything when it must."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orch_tui.orchestration.lanes.live_diff import DiffSnapshot, RefreshState, compute_diff
from orch_tui.orchestration.lanes.scratch_index import MAX_LIMITED_PATHS, ScratchIndex
from tests.support.helpers import git, make_repo


class Lane:
    """A lane worktree with a private index kept between refreshes, as the watcher keeps it."""

    def __init__(self, tmp_path: Path, repo: Path | None = None) -> None:
        repo = repo or make_repo(tmp_path / "repo", {
            "src/app.py": "print('hi')\n", "src/old/gone.py": "gone = 1\n", "src/old/also.py": "also = 2\n",
            "docs/guide.md": "# Guide\n", ".gitignore": "*.log\nbuild/\n"})
        self.path = tmp_path / "lane-1"
        git(repo, "worktree", "add", "-q", "-b", "orch/bd-1", str(self.path))
        self.base = git(repo, "rev-parse", "HEAD")
        (tmp_path / "scratch").mkdir()
        self.state = RefreshState(ScratchIndex(tmp_path / "scratch"))
        first = compute_diff(self.path, self.base, state=self.state)
        assert first.cost.full_reason == "first refresh"

    def refresh(self, *changed: str) -> DiffSnapshot:
        return compute_diff(self.path, self.base, state=self.state, changed=set(changed))

    def full_scan(self) -> DiffSnapshot:
        return compute_diff(self.path, self.base)  # a fresh index: nothing trusted from before

    def write(self, name: str, text: str) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


@pytest.fixture
def lane(tmp_path: Path) -> Lane:
    return Lane(tmp_path)


def assert_as_a_full_scan_shows(lane: Lane, limited: DiffSnapshot) -> None:
    assert not limited.cost.full, limited.cost.full_reason
    assert limited == lane.full_scan()


def test_a_deleted_file_and_a_file_in_a_new_folder_show_with_a_limited_refresh(lane: Lane) -> None:
    (lane.path / "docs" / "guide.md").unlink()
    lane.write("src/new/deep/mod.py", "deep = True\n")
    # inotify may miss files made in a folder before its watch is in place: the new folder's
    # own event is enough.
    snapshot = lane.refresh("docs/guide.md", "src/new")
    assert snapshot.files == ("docs/guide.md", "src/new/deep/mod.py")
    assert "-# Guide" in snapshot.diff and "+deep = True" in snapshot.diff
    assert_as_a_full_scan_shows(lane, snapshot)


def test_a_limited_refresh_never_touches_the_scratch_index(lane: Lane) -> None:
    """git reads and rewrites all of a big index even to stage one path: a limited refresh
    stages into a tiny index of its own and diffs only its paths, two short git processes."""
    before = lane.state.index.path.read_bytes()
    lane.write("src/app.py", "print('edited')\n")
    first = lane.refresh("src/app.py")
    # The first after a full scan also lists the files tracked though ignored (once, not on
    # every full scan: a lane's last refresh is a full one and would never use it).
    assert [step.command for step in first.cost.steps] == ["ls-files ignored", "add -A paths", "diff --cached paths"]
    lane.write("src/app.py", "print('edited again')\n")
    snapshot = lane.refresh("src/app.py")
    assert [step.command for step in snapshot.cost.steps] == ["add -A paths", "diff --cached paths"]
    assert lane.state.index.path.read_bytes() == before
    assert_as_a_full_scan_shows(lane, snapshot)


def test_the_next_full_refresh_catches_up_with_what_only_limited_ones_staged(lane: Lane) -> None:
    lane.write("src/app.py", "print('one')\n")
    lane.refresh("src/app.py")
    lane.write("src/app.py", "print('two')\n")
    (lane.path / "docs" / "guide.md").unlink()
    lane.write("src/made.py", "made = 1\n")
    lane.refresh("src/app.py", "docs/guide.md", "src/made.py")
    full = compute_diff(lane.path, lane.base, state=lane.state)  # the settling scan
    assert full.cost.full_reason
    assert full.files == ("docs/guide.md", "src/app.py", "src/made.py") and "+print('two')" in full.diff
    assert full == lane.full_scan()
    lane.write("src/made.py", "made = 2\n")
    assert_as_a_full_scan_shows(lane, lane.refresh("src/made.py"))


def test_files_refreshed_one_by_one_keep_gits_order(lane: Lane) -> None:
    """git orders a diff by path bytes: `a-b` < `a.py` < `a/c.py` < `a0.py`."""
    for name in ("src/a0.py", "src/a/c.py", "src/a.py", "src/a-b.py", "src/A.py"):
        lane.write(name, f"name = {name!r}\n")
        snapshot = lane.refresh(name)
    assert snapshot.files == ("src/A.py", "src/a-b.py", "src/a.py", "src/a/c.py", "src/a0.py")
    assert_as_a_full_scan_shows(lane, snapshot)


def test_a_file_tracked_though_ignored_shows_its_edit_and_its_deletion(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"src/app.py": "print('hi')\n", ".gitignore": "*.log\n"})
    (repo / "keep.log").write_text("kept on purpose\n")
    (repo / "logs").mkdir()
    (repo / "logs" / "first.log").write_text("first\n")
    git(repo, "add", "-f", "keep.log", "logs/first.log")
    git(repo, "commit", "-q", "-m", "a log kept on purpose")
    lane = Lane(tmp_path, repo)
    lane.write("keep.log", "edited\n")
    lane.write("new.log", "ignored\n")
    snapshot = lane.refresh("keep.log", "new.log")
    assert snapshot.files == ("keep.log",) and "+edited" in snapshot.diff
    assert_as_a_full_scan_shows(lane, snapshot)
    (lane.path / "keep.log").unlink()
    snapshot = lane.refresh("keep.log")
    assert snapshot.files == ("keep.log",) and "-kept on purpose" in snapshot.diff
    assert_as_a_full_scan_shows(lane, snapshot)
    (lane.path / "logs" / "first.log").write_text("second\n")
    (lane.path / "logs" / "other.log").write_text("ignored\n")
    snapshot = lane.refresh("logs")  # a folder holding one
    assert [step.command for step in snapshot.cost.steps][0] == "update-index seed"
    assert snapshot.files == ("keep.log", "logs/first.log") and "+second" in snapshot.diff
    assert_as_a_full_scan_shows(lane, snapshot)


def test_a_file_that_becomes_a_symlink_shows_as_with_a_full_scan(lane: Lane) -> None:
    (lane.path / "docs" / "guide.md").unlink()
    (lane.path / "docs" / "guide.md").symlink_to("../src/app.py")
    snapshot = lane.refresh("docs/guide.md")
    assert snapshot.files == ("docs/guide.md",) and "new file mode 120000" in snapshot.diff
    assert_as_a_full_scan_shows(lane, snapshot)


def test_a_deleted_folder_an_edit_and_a_rename_show_with_a_limited_refresh(lane: Lane) -> None:
    for name in ("gone.py", "also.py"):
        (lane.path / "src" / "old" / name).unlink()
    (lane.path / "src" / "old").rmdir()
    lane.write("src/app.py", "print('bye')\n")
    os.rename(lane.path / "docs" / "guide.md", lane.path / "docs" / "manual.md")
    snapshot = lane.refresh("src/old", "src/app.py", "docs/guide.md", "docs/manual.md")
    assert snapshot.files == ("docs/guide.md", "docs/manual.md", "src/app.py", "src/old/also.py", "src/old/gone.py")
    assert_as_a_full_scan_shows(lane, snapshot)


def test_ignored_files_and_temporary_files_that_came_and_went_are_left_out(lane: Lane) -> None:
    lane.write("run.log", "noise\n")
    lane.write("build/out.bin", "artefact\n")
    lane.write("src/kept.py", "kept = 1\n")
    snapshot = lane.refresh("run.log", "build", "build/out.bin", "src/kept.py", "src/.kept.py.tmp123")
    assert snapshot.files == ("src/kept.py",)
    assert_as_a_full_scan_shows(lane, snapshot)
    lane.write("build/deep/more.bin", "artefact\n")
    lane.write("src/also.py", "also = 1\n")
    snapshot = lane.refresh("build/deep/more.bin", "src/also.py")  # git names the folder: `build`
    assert snapshot.files == ("src/also.py", "src/kept.py")
    assert_as_a_full_scan_shows(lane, snapshot)


def test_a_file_added_then_deleted_between_refreshes_leaves_the_diff(lane: Lane) -> None:
    lane.write("src/brief.py", "brief = 1\n")
    assert lane.refresh("src/brief.py").files == ("src/brief.py",)
    (lane.path / "src" / "brief.py").unlink()
    snapshot = lane.refresh("src/brief.py")
    assert snapshot.files == () and snapshot.diff == ""
    assert_as_a_full_scan_shows(lane, snapshot)


def test_binary_files_and_names_that_look_like_patterns_are_staged_exactly(lane: Lane) -> None:
    (lane.path / "src" / "logo.png").write_bytes(bytes(range(256)))
    lane.write("src/[ab].py", "brackets = 1\n")
    lane.write("src/a.py", "not staged yet = 1\n")  # `[ab].py` as a pattern would match it
    lane.write("src/with space\nand line.py", "odd = 1\n")
    snapshot = lane.refresh("src/logo.png", "src/[ab].py", "src/with space\nand line.py")
    assert snapshot.files == ("src/[ab].py", "src/logo.png", "src/with space\nand line.py")
    assert "Binary file src/logo.png changed (256 bytes)" in snapshot.diff
    assert not snapshot.cost.full


def test_a_changed_gitignore_or_many_paths_scan_the_whole_tree(lane: Lane) -> None:
    lane.write("notes.txt", "mine\n")
    lane.write(".gitignore", "*.log\nbuild/\nnotes.txt\n")
    lane.write("docs/todo.txt", "unreported, shown once the tree is scanned\n")
    snapshot = lane.refresh(".gitignore")
    assert snapshot.cost.full_reason == "a .gitignore changed"
    assert snapshot.files == (".gitignore", "docs/todo.txt")
    many = [f"src/gen/f{number}.py" for number in range(MAX_LIMITED_PATHS + 1)]
    for name in many:
        lane.write(name, "generated = 1\n")
    snapshot = lane.refresh(*many)
    assert snapshot.cost.full_reason == f"{len(many)} changed paths"
    assert len(snapshot.files) == 2 + len(many)


def test_a_path_git_refuses_to_stage_alone_falls_back_to_a_full_scan(lane: Lane) -> None:
    nested = lane.path / "vendor" / "lib"
    nested.mkdir(parents=True)
    make_repo(nested, {"lib.py": "lib = 1\n"})  # an agent cloned a repository into its lane
    snapshot = lane.refresh("vendor")
    assert snapshot.files == ("vendor/lib",)
    assert_as_a_full_scan_shows(lane, snapshot)
    (nested / "lib.py").write_text("lib = 2\n")
    snapshot = lane.refresh("vendor/lib/lib.py")  # the nested repository's own business
    assert_as_a_full_scan_shows(lane, snapshot)
    (lane.path / "linked").symlink_to("docs")
    snapshot = lane.refresh("linked/guide.md")  # git: "pathspec ... is beyond a symbolic link"
    assert snapshot.cost.full_reason.startswith("limited staging refused: fatal: pathspec")
    assert snapshot.files == ("linked", "vendor/lib")
    assert snapshot == lane.full_scan()
