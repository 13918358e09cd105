"""The merge queue on real repositories: prediction, merging, refusals, recovery."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.merging.advancing import TargetAdvancer
from orch_tui.orchestration.merging.queue import MergeQueue, MergeTreeUnavailable
from orch_tui.orchestration.merging.state_file import MergeStateFile
from tests.support.helpers import git, make_repo

Content = str | bytes | None


def commit_on(repo: Path, branch: str, files: dict[str, Content], message: str = "", base: str = "main",
              renames: dict[str, str] | None = None) -> str:
    """Commit `files` (None deletes) and `renames` on `branch` (created at `base`) without
    touching the main checkout: the work happens in a throwaway worktree."""
    scratch = repo.parent / f"scratch-{branch.replace('/', '-')}"
    exists = git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    git(repo, "worktree", "add", "-q", *([str(scratch), branch] if exists else ["-b", branch, str(scratch), base]))
    for old, new in (renames or {}).items():
        git(scratch, "mv", old, new)
    for name, content in files.items():
        target = scratch / name
        if content is None:
            git(scratch, "rm", "-q", name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    git(scratch, "add", "-A")
    git(scratch, "commit", "-q", "-m", message or f"work on {branch}")
    git(repo, "worktree", "remove", str(scratch))
    return git(repo, "rev-parse", branch)


LINES = "".join(f"line {n}\n" for n in range(1, 21))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"story.txt": LINES, "other.txt": "other\n", "README.md": "# p\n"})


def queue_for(project: Path, **settings: object) -> MergeQueue:
    return MergeQueue(project, Config(**settings), root=project.parent / "lanes")


def edit_line(number: int, text: str) -> str:
    return LINES.replace(f"line {number}\n", f"{text}\n")


def test_clean_branches_merge_and_the_target_moves_forward(project: Path) -> None:
    commit_on(project, "orch/bd-1", {"new.txt": "one\n"})
    commit_on(project, "orch/bd-2", {"other.txt": "changed\n"})
    queue = queue_for(project)
    predictions = queue.predict(["orch/bd-1", "orch/bd-2"])
    assert [(p.branch, p.task_id, p.clean) for p in predictions] == [("orch/bd-1", "bd-1", True),
                                                                      ("orch/bd-2", "bd-2", True)]
    first = queue.merge("orch/bd-1")
    assert first.status == "merged" and first.commit == git(project, "rev-parse", "main")
    second = queue.merge("orch/bd-2")
    assert second.ok and second.commit == git(project, "rev-parse", "main")
    assert git(project, "log", "-1", "--format=%s", "main") == "Merge orch/bd-2 (task bd-2) into main"
    assert git(project, "rev-list", "--parents", "-1", "main").count(" ") == 2  # a real merge commit
    # The person's checkout followed, clean, with both changes.
    assert (project / "new.txt").read_text() == "one\n" and (project / "other.txt").read_text() == "changed\n"
    assert git(project, "status", "--porcelain") == ""
    # Default policy: archived under refs/orch-archive/, branch deleted.
    assert "archived as refs/orch-archive/bd-2" in second.branch_disposition
    assert git(project, "branch", "--list", "orch/*") == ""
    assert git(project, "rev-parse", "refs/orch-archive/bd-1") == first.commit
    json.dumps(second.to_dict())


@pytest.mark.parametrize("policy, branch_left, archived", [("keep", True, False), ("delete", False, False)])
def test_branch_policy_after_merge(project: Path, policy: str, branch_left: bool, archived: bool) -> None:
    commit_on(project, "orch/bd-1", {"new.txt": "one\n"})
    outcome = queue_for(project, branch_after_merge=policy).merge("orch/bd-1")
    assert outcome.ok
    assert bool(git(project, "branch", "--list", "orch/bd-1")) is branch_left
    assert bool(git(project, "for-each-ref", "refs/orch-archive/")) is archived


def test_prediction_finds_conflicts_and_orders_clean_branches_first(project: Path) -> None:
    commit_on(project, "orch/a", {"story.txt": edit_line(5, "A's line five")})
    commit_on(project, "orch/b", {"story.txt": edit_line(5, "B's line five")})
    commit_on(project, "orch/c", {"other.txt": "c\n"})
    git(project, "commit", "-q", "--allow-empty", "-m", "move main")
    (project / "README.md").write_text("# main moved\n")
    git(project, "commit", "-qam", "main edits readme")
    commit_on(project, "orch/d", {"README.md": "# d's readme\n"}, base="main~1")
    queue = queue_for(project)
    predictions = queue.predict(["orch/a", "orch/b", "orch/d", "orch/c"])
    by_branch = {p.branch: p for p in predictions}
    assert not by_branch["orch/d"].clean and by_branch["orch/d"].conflicted_files == ["README.md"]
    assert any("README.md" in m for m in by_branch["orch/d"].messages)
    assert by_branch["orch/a"].clean and by_branch["orch/b"].clean  # each alone is fine
    # a and b conflict with each other: b waits until after c; d (conflicts with main) is last.
    assert queue.suggested_order(predictions) == ["orch/a", "orch/c", "orch/b", "orch/d"]
    assert git(project, "rev-parse", "main") == predictions[0].target_commit  # nothing moved


def test_same_lines_conflict_resolved_hunk_by_hunk(project: Path) -> None:
    commit_on(project, "orch/a", {"story.txt": edit_line(5, "A's line five")})
    commit_on(project, "orch/b", {"story.txt": edit_line(5, "B's line five")})
    queue = queue_for(project)
    assert queue.merge("orch/a").ok
    target_before = git(project, "rev-parse", "main")
    outcome = queue.merge("orch/b")
    assert outcome.status == "conflict"
    assert git(project, "rev-parse", "main") == target_before
    assert (project / "story.txt").read_text() == edit_line(5, "A's line five")  # no markers for the person
    [record] = outcome.conflict.files
    assert (record.path, record.kind) == ("story.txt", "content")
    [hunk] = record.hunks
    assert (hunk.base, hunk.ours, hunk.theirs) == ("line 5\n", "A's line five\n", "B's line five\n")
    assert hunk.context_before == "line 2\nline 3\nline 4\n" and hunk.context_after.startswith("line 6\n")
    queue.resolve_hunk("story.txt", 0, "both")
    merged = queue.continue_merge()
    assert merged.status == "merged"
    assert (project / "story.txt").read_text() == LINES.replace("line 5\n", "A's line five\nB's line five\n")
    assert git(project, "status", "--porcelain") == ""


def test_abort_restores_the_merge_worktree_and_keeps_the_branch(project: Path) -> None:
    commit_on(project, "orch/a", {"story.txt": edit_line(3, "A")})
    tip_b = commit_on(project, "orch/b", {"story.txt": edit_line(3, "B")})
    queue = queue_for(project)
    queue.merge("orch/a")
    target = git(project, "rev-parse", "main")
    assert queue.merge("orch/b").status == "conflict"
    with pytest.raises(OrchError, match="waiting"):
        queue.merge("orch/a")
    aborted = queue.abort_merge()
    assert aborted.branch == "orch/b"
    assert queue.merge_state() is None
    assert git(project, "rev-parse", "main") == target
    assert git(project, "rev-parse", "orch/b") == tip_b
    assert git(queue.path, "status", "--porcelain") == ""
    assert git(queue.path, "rev-parse", "HEAD") == target


def test_delete_versus_edit_conflict(project: Path) -> None:
    commit_on(project, "orch/edit", {"other.txt": "edited by the task\n"})
    git(project, "rm", "-q", "other.txt")
    git(project, "commit", "-qm", "main deletes other.txt")
    queue = queue_for(project)
    assert not queue.predict(["orch/edit"])[0].clean
    outcome = queue.merge("orch/edit")
    [record] = outcome.conflict.files
    assert (record.path, record.kind, record.has_ours, record.has_theirs) == ("other.txt", "deleted/modified",
                                                                                False, True)
    assert any("other.txt" in m for m in record.messages)
    queue.resolve_file("other.txt", "theirs")
    assert queue.continue_merge().ok
    assert (project / "other.txt").read_text() == "edited by the task\n"


def test_delete_versus_edit_taking_the_deletion(project: Path) -> None:
    commit_on(project, "orch/drop", {"other.txt": None})
    (project / "other.txt").write_text("main edited\n")
    git(project, "commit", "-qam", "main edits other.txt")
    queue = queue_for(project)
    outcome = queue.merge("orch/drop")
    assert outcome.conflict.files[0].kind == "modified/deleted"
    assert queue.resolve_file("other.txt", "theirs").resolution == "deleted"
    assert queue.continue_merge().ok
    assert not (project / "other.txt").exists()


def test_rename_versus_edit_merges_cleanly_with_the_edit_at_the_new_path(project: Path) -> None:
    commit_on(project, "orch/rename", {}, renames={"story.txt": "chapter-1.txt"})
    commit_on(project, "orch/edit", {"story.txt": edit_line(10, "edited ten")})
    queue = queue_for(project)
    assert all(p.clean for p in queue.predict(["orch/rename", "orch/edit"]))
    assert queue.merge("orch/rename").ok
    assert queue.predict(["orch/edit"])[0].clean
    assert queue.merge("orch/edit").ok
    assert not (project / "story.txt").exists()
    assert (project / "chapter-1.txt").read_text() == edit_line(10, "edited ten")


def test_rename_versus_rename_is_a_conflict_settled_per_file(project: Path) -> None:
    commit_on(project, "orch/x", {}, renames={"other.txt": "x.txt"})
    commit_on(project, "orch/y", {}, renames={"other.txt": "y.txt"})
    queue = queue_for(project)
    queue.merge("orch/x")
    outcome = queue.merge("orch/y")
    assert outcome.status == "conflict"
    kinds = {f.path: f.kind for f in outcome.conflict.files}
    assert kinds == {"other.txt": "rename/rename", "x.txt": "rename/rename", "y.txt": "rename/rename"}
    queue.resolve_file("x.txt", "ours")  # keep the target's name...
    queue.resolve_file("y.txt", "ours")  # ...and not the task's (ours has no y.txt: deleted)
    queue.resolve_file("other.txt", "ours")
    assert queue.continue_merge().ok
    assert (project / "x.txt").read_text() == "other\n"
    assert not (project / "y.txt").exists() and not (project / "other.txt").exists()


def test_binary_file_conflict_takes_one_side_whole(project: Path) -> None:
    ours_bytes, theirs_bytes = b"\x89PNG\0ours\xff", b"\x89PNG\0theirs\xfe"
    base = commit_on(project, "orch/logo-base", {"logo.png": b"\x89PNG\0base"})
    git(project, "merge", "-q", "--ff-only", base)
    commit_on(project, "orch/logo", {"logo.png": theirs_bytes})
    (project / "logo.png").write_bytes(ours_bytes)
    git(project, "commit", "-qam", "main logo")
    queue = queue_for(project)
    outcome = queue.merge("orch/logo")
    [record] = outcome.conflict.files
    assert (record.kind, record.hunks) == ("binary", [])
    with pytest.raises(Exception, match="needs text on both sides"):
        queue.resolve_file("logo.png", "both")
    queue.resolve_file("logo.png", "theirs")
    assert queue.continue_merge().ok
    assert (project / "logo.png").read_bytes() == theirs_bytes


def test_dirty_main_checkout_is_never_overwritten(project: Path) -> None:
    commit_on(project, "orch/bd-1", {"other.txt": "from the task\n"})
    (project / "other.txt").write_text("the person's unsaved edit\n")
    queue = queue_for(project)
    target = git(project, "rev-parse", "main")
    outcome = queue.merge("orch/bd-1")
    assert outcome.status == "checkout_dirty"
    assert "other.txt" in outcome.message and "commit or stash" in outcome.message
    assert (project / "other.txt").read_text() == "the person's unsaved edit\n"
    assert git(project, "rev-parse", "main") == target
    assert queue.merge_state().stage == "checkout_dirty"
    # The person puts their edit aside; the waiting merge then goes through.
    (project / "other.txt").write_text("other\n")
    assert queue.continue_merge().status == "merged"
    assert (project / "other.txt").read_text() == "from the task\n"


def test_unrelated_local_edits_survive_the_fast_forward(project: Path) -> None:
    commit_on(project, "orch/bd-1", {"other.txt": "from the task\n"})
    (project / "README.md").write_text("# person's draft\n")
    (project / "scratch.txt").write_text("untracked\n")
    assert queue_for(project).merge("orch/bd-1").ok
    assert (project / "README.md").read_text() == "# person's draft\n"
    assert (project / "scratch.txt").read_text() == "untracked\n"
    assert (project / "other.txt").read_text() == "from the task\n"


@pytest.mark.parametrize("ignored", [False, True])
def test_an_untracked_or_ignored_file_the_merge_would_add_is_protected(project: Path, ignored: bool) -> None:
    commit_on(project, "orch/bd-1", {"config.env": "from the task\n"})
    if ignored:
        (project / ".git" / "info" / "exclude").write_text("config.env\n")
    (project / "config.env").write_text("SECRET=person's\n")
    outcome = queue_for(project).merge("orch/bd-1")
    assert outcome.status == "checkout_dirty" and "config.env" in outcome.message
    assert (project / "config.env").read_text() == "SECRET=person's\n"


def test_target_checked_out_nowhere_moves_by_compare_and_swap(project: Path) -> None:
    git(project, "branch", "release")
    commit_on(project, "orch/bd-1", {"new.txt": "x\n"}, base="release")
    main_before = git(project, "rev-parse", "main")
    outcome = queue_for(project, target_branch="release").merge("orch/bd-1")
    assert outcome.ok and git(project, "rev-parse", "release") == outcome.commit
    assert git(project, "rev-parse", "main") == main_before


def test_target_moving_during_a_stop_is_detected_not_overwritten(project: Path) -> None:
    commit_on(project, "orch/bd-1", {"other.txt": "task\n"})
    (project / "other.txt").write_text("dirty\n")
    queue = queue_for(project)
    assert queue.merge("orch/bd-1").status == "checkout_dirty"
    (project / "other.txt").write_text("person's commit\n")
    git(project, "commit", "-qam", "person commits meanwhile")
    person = git(project, "rev-parse", "main")
    outcome = queue.continue_merge()
    assert outcome.status == "target_moved"
    assert git(project, "rev-parse", "main") == person
    assert git(project, "branch", "--list", "orch/bd-1")
    assert queue.merge_state() is None


def verify_argv(script: str) -> tuple[str, ...]:
    return (sys.executable, "-c", script)


def test_failing_verification_stops_the_queue_until_fixed(project: Path) -> None:
    commit_on(project, "orch/bd-1", {"other.txt": "BROKEN\n"})
    check = verify_argv("import pathlib, sys; text = pathlib.Path('other.txt').read_text(); "
                        "print('checked:', text.strip()); sys.exit(1 if 'BROKEN' in text else 0)")
    queue = queue_for(project, verify_command=check)
    target = git(project, "rev-parse", "main")
    outcome = queue.merge("orch/bd-1")
    assert outcome.status == "verify_failed"
    assert outcome.verification.returncode == 1 and "checked: BROKEN" in outcome.verification.output
    assert git(project, "rev-parse", "main") == target
    assert queue.merge_state().stage == "verify_failed"
    queue.write_resolution("other.txt", "fixed\n")
    done = queue.continue_merge()
    assert done.status == "merged" and done.verification.passed
    assert (project / "other.txt").read_text() == "fixed\n"


def test_missing_verify_command_is_a_failure_not_a_crash(project: Path) -> None:
    commit_on(project, "orch/bd-1", {"new.txt": "x\n"})
    outcome = queue_for(project, verify_command=("no-such-checker-xyz",)).merge("orch/bd-1")
    assert outcome.status == "verify_failed" and "command not found" in outcome.verification.output


def test_a_stopped_merge_survives_a_restart(project: Path) -> None:
    commit_on(project, "orch/a", {"story.txt": edit_line(7, "A")})
    commit_on(project, "orch/b", {"story.txt": edit_line(7, "B")})
    queue_for(project).merge("orch/a")
    assert queue_for(project).merge("orch/b").status == "conflict"
    restarted = queue_for(project)
    state = restarted.merge_state()
    assert (state.stage, state.branch, state.task_id) == ("conflict", "orch/b", "b")
    assert state.conflict.unresolved == ["story.txt"]
    json.dumps(state.to_dict())
    restarted.resolve_hunk("story.txt", 0, "theirs")
    again = queue_for(project)
    assert again.merge_state().conflict.files[0].hunks[0].resolution == "theirs"
    assert again.continue_merge().ok
    assert "B\n" in (project / "story.txt").read_text()


def test_continue_refuses_while_files_are_unresolved(project: Path) -> None:
    commit_on(project, "orch/a", {"story.txt": edit_line(7, "A")})
    commit_on(project, "orch/b", {"story.txt": edit_line(7, "B")})
    queue = queue_for(project)
    queue.merge("orch/a")
    queue.merge("orch/b")
    with pytest.raises(OrchError, match="still unresolved: story.txt"):
        queue.continue_merge()
    assert queue.merge_state().stage == "conflict"


def test_already_merged_branch_is_reported_as_such(project: Path) -> None:
    git(project, "branch", "orch/old")
    outcome = queue_for(project).merge("orch/old")
    assert outcome.status == "already_merged" and outcome.ok


def test_old_git_without_merge_tree_is_named_clearly(project: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in for git 2.37 (the real one here is newer): it only lies about its version.
    fake_bin = tmp_path / "old-git"
    fake_bin.mkdir()
    script = fake_bin / "git"
    script.write_text('#!/bin/sh\nif [ "$1" = version ]; then echo "git version 2.37.1"; exit 0; fi\n'
                      f'exec {shutil.which("git")} "$@"\n')
    script.chmod(0o755)
    queue = queue_for(project)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(MergeTreeUnavailable, match="needs git 2.38 or newer"):
        queue.predict(["main"])


def test_lanes_to_target_end_to_end(project: Path) -> None:
    from orch_tui.orchestration.lanes.worktrees import WorktreePool
    config = Config(batch_size=2, worktree_dir="../lanes")
    pool = WorktreePool.from_config(project, config)
    pool.ensure()
    for index, task in ((1, "bd-1"), (2, "bd-2")):
        lane = pool.assign(index, task, "main")
        (Path(lane.path) / f"{task}.txt").write_text(f"{task} done\n")  # the agent forgets to commit
    queue = MergeQueue(project, config)
    assert queue.path.parent == pool.root
    pool.release(1, "orch-tui: leftovers of bd-1")
    assert queue.merge("orch/bd-1").branch_disposition == "archived as refs/orch-archive/bd-1; branch deleted"
    pool.release(2)
    second = queue.merge("orch/bd-2")
    assert second.ok and (project / "bd-1.txt").exists() and (project / "bd-2.txt").exists()
    assert pool.assign(1, "bd-3", "main").head == git(project, "rev-parse", "main")


def test_a_branch_still_checked_out_in_a_lane_is_archived_but_kept(project: Path) -> None:
    from orch_tui.orchestration.lanes.worktrees import WorktreePool
    pool = WorktreePool(project, 1, root=project.parent / "lanes")
    pool.ensure()
    lane = pool.assign(1, "bd-1", "main")
    (Path(lane.path) / "x.txt").write_text("x\n")
    pool.commit_leftovers(lane, "work")
    outcome = queue_for(project).merge("orch/bd-1")
    assert outcome.ok
    assert outcome.branch_disposition.startswith("archived as refs/orch-archive/bd-1; branch kept: checked out in")
    assert git(project, "branch", "--list", "orch/bd-1")


def test_merge_if_clean_leaves_a_conflicting_branch_alone(project: Path) -> None:
    commit_on(project, "orch/a", {"story.txt": edit_line(5, "A's line five")})
    commit_on(project, "orch/b", {"story.txt": edit_line(5, "B's line five")})
    queue = queue_for(project)
    assert queue.merge_if_clean("orch/a").status == "merged"
    before = git(project, "rev-parse", "main")
    assert queue.merge_if_clean("orch/b") is None
    assert git(project, "rev-parse", "main") == before and queue.merge_state() is None
    assert git(project, "status", "--porcelain") == ""
    assert queue.merge("orch/b").status == "conflict", "a plain merge still stops for a person"


def test_a_merge_made_without_checkout_is_finished_after_a_crash(project: Path) -> None:
    """Killed between writing the merge commit and moving the target: continue moves it."""
    commit_on(project, "orch/bd-1", {"new.txt": "one\n"})
    git(project, "commit", "-q", "--allow-empty", "-m", "main moves on")  # so a merge commit is needed
    queue = queue_for(project)
    before = git(project, "rev-parse", "main")
    advance = TargetAdvancer.advance

    def die(self: TargetAdvancer, state: object, verification: object = None) -> None:
        raise SystemExit("killed")  # the process dies here

    TargetAdvancer.advance = die  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(SystemExit):
            queue.merge("orch/bd-1")
    finally:
        TargetAdvancer.advance = advance  # type: ignore[method-assign]
    assert git(project, "rev-parse", "main") == before
    restarted = queue_for(project)
    waiting = restarted.merge_state()
    assert waiting is not None and waiting.stage == "advancing" and waiting.merged_commit
    outcome = restarted.continue_merge()
    assert outcome.status == "merged" and git(project, "rev-parse", "main") == waiting.merged_commit
    assert (project / "new.txt").read_text() == "one\n"
    assert restarted.merge_state() is None


def test_a_series_of_clean_branches_moves_the_target_once_with_a_merge_commit_each(project: Path) -> None:
    tips = {name: commit_on(project, f"orch/{name}", {f"{name}.txt": f"{name}\n"}) for name in ("bd-1", "bd-2", "bd-3")}
    old = git(project, "rev-parse", "main")
    reflog_before = len(git(project, "reflog", "main").splitlines())

    outcomes = queue_for(project).merge_series_if_clean(["orch/bd-1", "orch/bd-2", "orch/bd-3"])

    assert [(o.status, o.task_id) for o in outcomes] == [("merged", "bd-1"), ("merged", "bd-2"), ("merged", "bd-3")]
    assert outcomes[-1].commit == git(project, "rev-parse", "main")
    assert len(git(project, "reflog", "main").splitlines()) == reflog_before + 1  # one move
    # The history is the one merging them one at a time gives: bd-1 fast-forwards, then a
    # merge commit each, whose second parent is the task branch.
    assert outcomes[0].commit == tips["bd-1"]
    for outcome, name in zip(outcomes[1:], ("bd-2", "bd-3")):
        assert git(project, "rev-parse", f"{outcome.commit}^2") == tips[name]
    assert git(project, "rev-parse", f"{outcomes[2].commit}^1") == outcomes[1].commit
    assert all((project / f"{name}.txt").exists() for name in tips)  # the checkout moved too
    assert git(project, "branch", "--list", "orch/*") == ""
    assert all("archived" in (o.branch_disposition or "") for o in outcomes)
    assert git(project, "rev-parse", f"{tips['bd-1']}^") == old  # nothing of the old tip lost


def test_a_series_keeps_an_earlier_branch_still_checked_out_in_a_lane(project: Path) -> None:
    """The earlier branches of a series go in one ref transaction; one of them checked out in a
    lane is archived but kept, and the others are still archived and deleted."""
    from orch_tui.orchestration.lanes.worktrees import WorktreePool
    pool = WorktreePool(project, 1, root=project.parent / "lanes")
    pool.ensure()
    lane = pool.assign(1, "bd-1", "main")
    (Path(lane.path) / "x.txt").write_text("x\n")
    pool.commit_leftovers(lane, "work")
    commit_on(project, "orch/bd-2", {"two.txt": "2\n"})
    commit_on(project, "orch/bd-3", {"three.txt": "3\n"})

    outcomes = queue_for(project).merge_series_if_clean(["orch/bd-1", "orch/bd-2", "orch/bd-3"])

    assert [o.status for o in outcomes] == ["merged"] * 3
    first, second, third = (o.branch_disposition or "" for o in outcomes)
    assert first.startswith("archived as refs/orch-archive/bd-1; branch kept: checked out in")
    assert second == "archived as refs/orch-archive/bd-2; branch deleted"
    assert third == "archived as refs/orch-archive/bd-3; branch deleted"
    assert git(project, "for-each-ref", "--format=%(refname:short)", "refs/heads/orch/").split() == ["orch/bd-1"]


def test_a_predicted_merge_still_merges_after_git_pruned_its_tree(project: Path) -> None:
    """The queue remembers the tree a prediction merged; `git gc --prune=now` may delete it
    before the merge, which then merges again instead of failing."""
    commit_on(project, "orch/bd-1", {"new.txt": "one\n"})
    (project / "main.txt").write_text("main moves on\n")  # so the merged tree is one no commit has
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "main moves on")
    queue = queue_for(project)
    assert queue.predict(["orch/bd-1"])[0].clean
    git(project, "gc", "--quiet", "--prune=now")

    outcome = queue.merge("orch/bd-1")

    assert outcome.status == "merged" and (project / "new.txt").read_text() == "one\n"
    assert (project / "main.txt").exists()


def test_a_branch_merged_in_a_series_reads_as_merged_after_a_crash(project: Path) -> None:
    """Killed after the series moved the target and archived its branches, before the engine
    journaled the last one: the restart finds that branch gone, and merged, not missing."""
    commit_on(project, "orch/bd-1", {"one.txt": "1\n"})
    commit_on(project, "orch/bd-2", {"two.txt": "2\n"})
    queue = queue_for(project)
    assert len(queue.merge_series_if_clean(["orch/bd-1", "orch/bd-2"])) == 2
    tip = git(project, "rev-parse", "main")

    [prediction] = queue.predict(["orch/bd-2"])
    assert prediction.clean and prediction.already_merged
    outcome = queue.merge("orch/bd-2")
    assert outcome.status == "already_merged" and git(project, "rev-parse", "main") == tip
    with pytest.raises(OrchError, match="does not exist"):
        queue.merge("orch/bd-9")  # never archived: still an error


def test_a_series_stops_before_a_conflicting_branch_and_leaves_it_alone(project: Path) -> None:
    commit_on(project, "orch/bd-1", {"story.txt": edit_line(3, "from bd-1")})
    commit_on(project, "orch/bd-2", {"story.txt": edit_line(3, "from bd-2")})
    commit_on(project, "orch/bd-3", {"new.txt": "x\n"})
    queue = queue_for(project)

    outcomes = queue.merge_series_if_clean(["orch/bd-1", "orch/bd-2", "orch/bd-3"])

    assert [o.task_id for o in outcomes] == ["bd-1"]
    assert "from bd-1" in (project / "story.txt").read_text()
    assert git(project, "branch", "--list", "orch/bd-2", "orch/bd-3").split() == ["orch/bd-2", "orch/bd-3"]
    assert queue.merge_state() is None


def test_a_series_the_checkout_refuses_changes_nothing(project: Path) -> None:
    commit_on(project, "orch/bd-1", {"new.txt": "x\n"})
    commit_on(project, "orch/bd-2", {"other.txt": "from the task\n"})
    (project / "other.txt").write_text("the person's unsaved edit\n")
    queue = queue_for(project)
    before = git(project, "rev-parse", "main")

    assert queue.merge_series_if_clean(["orch/bd-1", "orch/bd-2"]) == []

    assert git(project, "rev-parse", "main") == before and queue.merge_state() is None
    assert (project / "other.txt").read_text() == "the person's unsaved edit\n"
    assert queue.merge("orch/bd-1").ok  # one at a time, the first still merges


def test_a_series_interrupted_after_saving_is_finished_by_continue(project: Path, monkeypatch) -> None:
    commit_on(project, "orch/bd-1", {"one.txt": "1\n"})
    commit_on(project, "orch/bd-2", {"two.txt": "2\n"})
    queue = queue_for(project)
    crashed = RuntimeError("killed before the target moved")

    def crash(*_args: object, **_kwargs: object) -> None:
        raise crashed
    monkeypatch.setattr(TargetAdvancer, "advance", crash)
    with pytest.raises(RuntimeError):
        queue.merge_series_if_clean(["orch/bd-1", "orch/bd-2"])
    monkeypatch.undo()

    restarted = queue_for(project)
    assert restarted.merge_state().stage == "advancing"
    assert restarted.continue_merge().status == "merged"  # moves main past both
    assert (project / "one.txt").exists() and (project / "two.txt").exists()
    assert restarted.merge("orch/bd-1").status == "already_merged"


def test_a_merge_whose_target_moved_just_before_a_crash_finishes_on_continue(project: Path, monkeypatch) -> None:
    commit_on(project, "orch/bd-1", {"new.txt": "x\n"})
    second = commit_on(project, "orch/bd-2", {"two.txt": "2\n"})
    queue = queue_for(project)
    assert queue.merge("orch/bd-1").ok

    def crash_instead_of_clearing(self: MergeStateFile) -> None:
        raise RuntimeError("killed after the target moved")
    monkeypatch.setattr(MergeStateFile, "clear", crash_instead_of_clearing)
    with pytest.raises(RuntimeError):
        queue.merge("orch/bd-2")
    monkeypatch.undo()
    moved = git(project, "rev-parse", "main")
    assert git(project, "rev-parse", f"{moved}^2") == second

    outcome = queue_for(project).continue_merge()

    assert outcome.status == "merged" and outcome.commit == moved
    assert queue_for(project).merge_state() is None
