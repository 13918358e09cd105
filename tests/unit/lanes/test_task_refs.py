"""Task ids become branch and directory names only after validation."""

from __future__ import annotations

import pytest

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.tracker.task_refs import (archive_ref, task_branch, task_dir_name, task_id_from_branch,
                                              validate_task_id)
from tests.support.helpers import git


@pytest.mark.parametrize("task_id", ["bd-a1b2", "orch-tui-3.1", "BD_42", "x", "7f3e.2.1"])
def test_beads_style_ids_map_to_valid_branches(repo, task_id: str) -> None:
    branch = task_branch(task_id)
    assert branch == f"orch/{task_id}"
    assert git(repo, "check-ref-format", "--branch", branch) == branch
    assert archive_ref(task_id) == f"refs/orch-archive/{task_id}"
    assert task_id_from_branch(f"refs/heads/{branch}") == task_id


@pytest.mark.parametrize("task_id, complaint", [
    ("", "empty"),
    ("../../etc", "'/'"),
    ("a/../../b", "'/'"),
    ("a..b", "'..'"),
    ("..", "letter or a digit"),
    (".hidden", "letter or a digit"),
    ("-rf", "letter or a digit"),
    ("x.lock", ".lock"),
    ("ends.", "'.'"),
    ("a b", "' '"),
    ("name~1^2:x", "'~'"),
    ("star*?[", "'*'"),
    ("back\\slash", "'\\\\'"),
    ("at@{1}", "'@'"),
    ("new\nline", "'\\n'"),
    ("ünïcode", "'ü'"),
    ("$(rm -rf ~)", "'$'"),
    ("x" * 101, "longer than 100"),
])
def test_hostile_ids_are_refused_with_a_clear_message(task_id: str, complaint: str) -> None:
    with pytest.raises(BadInput) as refused:
        task_branch(task_id)
    message = str(refused.value)
    assert "cannot be used as a git branch name" in message
    assert complaint in message
    assert "fix:" in message
    with pytest.raises(BadInput):
        task_dir_name(task_id)


def test_every_accepted_id_is_one_path_component() -> None:
    for task_id in ("a", "a.b", "a-b_c", "9"):
        assert "/" not in task_dir_name(validate_task_id(task_id))
        assert task_dir_name(task_id) not in (".", "..")


def test_branch_that_is_not_a_task_branch_has_no_task_id() -> None:
    assert task_id_from_branch("main") is None
    assert task_id_from_branch("orch/../x") is None
    assert task_id_from_branch("orch-rescue/lane-1-2024") is None
