"""Task ids become branch and directory names only when safe (hypothesis).

Whatever text a task id holds: either it is refused with BadInput, or its branch and archive
ref pass git's own `check-ref-format`, its directory is one component that stays inside the
pool, and the branch maps back to the same id. Ids that differ only in case (one file on a
case-insensitive file system such as macOS's or Windows') are flagged, and every id left
unflagged is distinct from every other even when case is ignored.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.tracker.task_refs import (archive_ref, task_branch, task_dir_name,
                                               task_id_from_branch, validate_task_id)
from orch_tui.orchestration.tracker.task_safety import case_twins

# Mostly the characters ids are made of, plus everything git or a file system treats specially.
tricky = st.sampled_from(list("aZ09-_./\\~^:?*[@{} \t\n\x00\x1b\u202eé") + ["..", ".lock", "@{"])
task_ids = st.one_of(
    st.lists(st.sampled_from(list("abAB01-_.")) | tricky, max_size=12).map("".join),
    st.text(max_size=12),
    st.from_regex(r"[a-z]{2,4}-[a-z0-9]{1,6}(\.[0-9]{1,2})?", fullmatch=True),
)


def _git_accepts(ref: str) -> bool:
    return subprocess.run(["git", "check-ref-format", ref], capture_output=True,
                          check=False).returncode == 0


@given(task_ids)
@example("bd-a1b2")
@example("orch-tui-3.1")
@example("../../etc")
@example("-rf")
@example("a.lock")
@example("x" * 101)
def test_an_id_is_refused_or_safe_everywhere_it_is_used(task_id: str) -> None:
    try:
        validate_task_id(task_id)
    except BadInput:
        with pytest.raises(BadInput):
            task_branch(task_id)
        assert task_id_from_branch(f"orch/{task_id}") is None
        return
    assert task_id.isascii()  # no Unicode normalisation can make two ids one file
    branch = task_branch(task_id)
    assert _git_accepts(f"refs/heads/{branch}")
    assert _git_accepts(archive_ref(task_id))
    assert not branch.removeprefix("orch/").startswith("-")
    assert task_id_from_branch(branch) == task_id
    assert task_id_from_branch(f"refs/heads/{branch}") == task_id
    name = task_dir_name(task_id)
    pool = Path("/pool/lanes")
    assert os.sep not in name and name not in (".", "..")
    assert Path(os.path.normpath(pool / name)).parent == pool


@given(st.lists(task_ids, max_size=8))
def test_ids_left_unflagged_never_collide_even_ignoring_case(ids: list[str]) -> None:
    twins = case_twins(ids)
    kept = [task_id for task_id in set(ids) if task_id not in twins]
    assert len({task_id.casefold() for task_id in kept}) == len(kept)
    for task_id, other in twins.items():
        assert task_id != other and task_id.casefold() == other.casefold()
