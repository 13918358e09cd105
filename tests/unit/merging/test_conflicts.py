"""Conflict records: hunks with base/ours/theirs and context, and each way to resolve them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.merging.queue import MergeQueue
from tests.support.helpers import git, make_repo
from tests.unit.merging.test_merge import commit_on

BASE = "".join(f"{n}\n" for n in range(1, 31))


def variant(**changes: str) -> str:
    lines = BASE.splitlines(keepends=True)
    for key, text in changes.items():
        lines[int(key.removeprefix("l")) - 1] = text
    return "".join(lines)


@pytest.fixture
def stopped(tmp_path: Path) -> MergeQueue:
    """A merge stopped on story.txt with two conflicting hunks (lines 5 and 20)."""
    project = make_repo(tmp_path / "project", {"story.txt": BASE})
    commit_on(project, "orch/ours", {"story.txt": variant(l5="ours five\n", l20="ours twenty\n")})
    commit_on(project, "orch/theirs", {"story.txt": variant(l5="theirs five\n", l20="theirs twenty\n",
                                                            l12="theirs twelve (clean)\n")})
    queue = MergeQueue(project, Config(), root=tmp_path / "lanes")
    assert queue.merge("orch/ours").ok
    assert queue.merge("orch/theirs").status == "conflict"
    return queue


def working(queue: MergeQueue) -> str:
    return (queue.path / "story.txt").read_text()


def test_record_has_every_hunk_with_sides_context_and_line(stopped: MergeQueue) -> None:
    [record] = stopped.conflict().files
    first, second = record.hunks
    assert (first.index, first.base, first.ours, first.theirs) == (0, "5\n", "ours five\n", "theirs five\n")
    assert first.context_before == "2\n3\n4\n" and first.context_after == "6\n7\n8\n"
    assert first.start_line == 5
    assert (second.ours, second.theirs, second.start_line) == ("ours twenty\n", "theirs twenty\n", 20)
    assert "theirs twelve (clean)\n" not in second.context_before  # clean changes are merged, not hunks
    assert record.resolved is False
    json.dumps(stopped.conflict().to_dict())


def test_choices_per_hunk_rewrite_the_file_keeping_markers_for_the_rest(stopped: MergeQueue) -> None:
    record = stopped.resolve_hunk("story.txt", 1, "ours")
    assert [h.resolution for h in record.hunks] == [None, "ours"] and not record.resolved
    text = working(stopped)
    assert "ours twenty\n" in text and "theirs twenty" not in text
    assert "<" * 31 + " ours\n" in text and "|" * 31 + " base\n" in text  # hunk 0 still open
    record = stopped.resolve_hunk("story.txt", 0, "theirs")
    assert record.resolved
    assert working(stopped) == variant(l5="theirs five\n", l12="theirs twelve (clean)\n", l20="ours twenty\n")
    assert stopped.continue_merge().ok


def test_take_both_keeps_ours_then_theirs(stopped: MergeQueue) -> None:
    stopped.resolve_file("story.txt", "both")
    assert working(stopped) == variant(l5="ours five\ntheirs five\n", l12="theirs twelve (clean)\n",
                                       l20="ours twenty\ntheirs twenty\n")


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_whole_file_choice_settles_every_hunk_and_keeps_clean_changes(stopped: MergeQueue, side: str) -> None:
    stopped.resolve_file("story.txt", side)
    assert working(stopped) == variant(l5=f"{side} five\n", l12="theirs twelve (clean)\n", l20=f"{side} twenty\n")


def test_a_person_written_file_is_the_resolution(stopped: MergeQueue) -> None:
    stopped.write_resolution("story.txt", "rewritten by hand\n")
    assert stopped.conflict().files[0].resolution == "custom"
    outcome = stopped.continue_merge()
    assert outcome.ok
    main = stopped.main
    assert (main / "story.txt").read_text() == "rewritten by hand\n"
    assert git(main, "log", "-1", "--format=%s") == "Merge orch/theirs (task theirs) into main"


def test_bad_requests_are_clear_errors(stopped: MergeQueue) -> None:
    with pytest.raises(BadInput, match="hunks 0..1"):
        stopped.resolve_hunk("story.txt", 5, "ours")
    with pytest.raises(BadInput, match="unknown choice"):
        stopped.resolve_hunk("story.txt", 0, "mine")
    with pytest.raises(BadInput, match="not a conflicted file"):
        stopped.resolve_file("README.md", "ours")
    with pytest.raises(BadInput, match="not a conflicted file"):
        stopped.write_resolution("../../escape.txt", "x")


def test_add_add_conflict_and_marker_like_lines_in_content(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    tricky = "=======\n<<<<<<< not a marker\n"
    commit_on(project, "orch/one", {"new.md": tricky + "one\n"})
    commit_on(project, "orch/two", {"new.md": tricky + "two\n"})
    queue = MergeQueue(project, Config(), root=tmp_path / "lanes")
    queue.merge("orch/one")
    [record] = queue.merge("orch/two").conflict.files
    assert record.kind == "add/add" and not record.has_base
    [hunk] = record.hunks
    assert (hunk.base, hunk.ours, hunk.theirs, hunk.context_before) == ("", "one\n", "two\n", tricky)
    queue.resolve_hunk("new.md", 0, "both")
    assert queue.continue_merge().ok
    assert (project / "new.md").read_text() == tricky + "one\ntwo\n"
