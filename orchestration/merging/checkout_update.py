"""Moving the target branch where the person has it checked out, so a crash can be undone.

`git merge --ff-only` in the person's checkout writes the new commit's files first, then
the index, then the branch ref. Killed in between (a SIGKILL of orch-tui's process group
kills that git too), it leaves the new files among the old ones, untracked or modified,
maybe an `index.lock`, and the branch where it was: a checkout the person never touched,
now dirty. So the move is written down first:

1. `<git dir>/orch-tui/checkout-update.json` records checkout, branch, old and new commit;
2. `git merge --ff-only <new>` runs in the checkout;
3. the record is removed once git has ended (whatever its answer).

At the next start (`repair_interrupted_update`) a record still there means step 2 was cut:

* the branch is at `new`: git had finished (the ref moves last); nothing to repair;
* the branch is still at `old`: each path the update touches is put back as `old` has it
  (index and file), provided its content is the old or the new version, which only git
  can have written; the merge then goes on by the normal path, which moves the checkout
  again from a clean start. A path with any other content is the person's: nothing is
  touched and they are told which. A lock git left in the checkout is removed only when
  it is younger than the record and no git process works there: otherwise it may be the
  person's own git, and the run stops, naming the file.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from orch_tui.orchestration.infra.atomic import write_atomically
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.git_exec import nul_fields, run_git, run_git_with_input
from orch_tui.orchestration.infra.repo_paths import git_common_dir, state_dir
from orch_tui.orchestration.infra.stale_locks import wait_for_git_to_end

RECORD_NAME = "checkout-update.json"
_CHUNK = 200
"""Paths per git command (argv stays well under the system's limit)."""


class CheckoutNeedsPerson(OrchError):
    """The person's checkout holds something orch-tui must not decide about on its own."""


@dataclass
class CheckoutUpdate:
    checkout: str
    branch: str
    """Short branch name (`main`)."""
    old: str
    new: str
    started: float


def _record_path(repo: Path) -> Path:
    return state_dir(repo) / RECORD_NAME


@contextmanager
def recorded_update(repo: Path, checkout: Path, branch: str, old: str, new: str) -> Iterator[None]:
    """Around the git command that moves `branch` in `checkout` from `old` to `new`."""
    path = _record_path(repo)
    record = CheckoutUpdate(str(checkout), branch, old, new, time.time())
    write_atomically(path, json.dumps(asdict(record), indent=2).encode())
    try:
        yield
    finally:  # git has ended (a crash never gets here, which is the point)
        path.unlink(missing_ok=True)


def load_update(repo: Path) -> CheckoutUpdate | None:
    path = _record_path(repo)
    if not path.exists():
        return None
    try:
        return CheckoutUpdate(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as error:
        raise OrchError(f"{path}: cannot read orch-tui's record of an interrupted checkout update "
                        f"({error}); check `git status` in your checkout, then delete the file") from None


def repair_interrupted_update(repo: Path) -> list[str]:
    """Undo (or find finished) an update of the person's checkout a crash cut; what was done."""
    record = load_update(repo)
    if record is None:
        return []
    checkout = Path(record.checkout)
    messages = _release_locks(repo, record)
    tip = run_git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{record.branch}", check=False).out.strip()
    if tip == record.new:
        messages.append(f"the update of {record.branch} in {checkout} to {record.new[:12]} had finished "
                        "before the previous orchestrator stopped")
    elif _checked_out(checkout) != f"refs/heads/{record.branch}":
        messages.append(f"{checkout} no longer has {record.branch} checked out since orch-tui's interrupted "
                        "update of it; that checkout is left as it is")
    elif tip == record.old:
        restored = _put_back(checkout, record)
        if restored:
            messages.append(f"the update of {record.branch} in {checkout} from {record.old[:12]} to "
                            f"{record.new[:12]} was interrupted: put {restored} file(s) back as "
                            f"{record.old[:12]} has them; the merge goes on from there")
    else:
        messages.append(f"{record.branch} moved to {tip[:12] or 'nowhere'} since orch-tui's interrupted "
                        f"update of {checkout}; that checkout is left as it is")
    _record_path(repo).unlink(missing_ok=True)
    return messages


def _checked_out(checkout: Path) -> str:
    """The full name of the branch checked out in `checkout` ("" when detached)."""
    return run_git(checkout, "symbolic-ref", "--quiet", "HEAD", check=False).out.strip()


def _release_locks(repo: Path, record: CheckoutUpdate) -> list[str]:
    """Remove the locks the interrupted git left in the checkout, if provably its own."""
    checkout = Path(record.checkout)
    git_dir = Path(run_git(checkout, "rev-parse", "--path-format=absolute", "--git-dir").out.strip())
    candidates = [git_dir / "index.lock", git_dir / "HEAD.lock", git_dir / "ORIG_HEAD.lock",
                  git_common_dir(repo) / "refs" / "heads" / f"{record.branch}.lock"]
    present = [lock for lock in candidates if lock.exists()]
    if not present:
        return []
    running = wait_for_git_to_end(checkout)
    foreign = [lock for lock in present if lock.stat().st_mtime < record.started - 1.0]
    if running or foreign:
        lock = (foreign or present)[0]
        who = f"git (pid {', '.join(map(str, running))}) is running in {checkout}" if running else \
            f"it is older than orch-tui's update of {record.branch}"
        raise CheckoutNeedsPerson(
            f"{lock} exists and {who}: orch-tui never removes a lock in your checkout on a guess. "
            f"If no git command is running in {checkout}, remove {lock} and run orch-tui again.")
    for lock in present:
        lock.unlink(missing_ok=True)
    names = ", ".join(lock.name for lock in present)
    return [f"removed {names} left in {checkout} by orch-tui's own interrupted `git merge --ff-only` "
            f"(it dates from that update and no git process works there)"]


def _put_back(checkout: Path, record: CheckoutUpdate) -> int:
    """Restore every path the update touches to `old`; the number of paths changed back."""
    fields = nul_fields(run_git(checkout, "diff", "--name-only", "--no-renames", "-z",
                                record.old, record.new).out)
    paths = list(dict.fromkeys(fields))
    if not paths:
        return 0
    old, new = _tree_blobs(checkout, record.old, paths), _tree_blobs(checkout, record.new, paths)
    index = _index_blobs(checkout, paths)
    files = _worktree_blobs(checkout, paths)
    foreign = [path for path in paths
               if files.get(path) not in (old.get(path), new.get(path))
               or index.get(path) not in (old.get(path), new.get(path))]
    if foreign:
        shown = ", ".join(foreign[:10]) + (" ..." if len(foreign) > 10 else "")
        raise CheckoutNeedsPerson(
            f"orch-tui's update of {record.branch} in {checkout} from {record.old[:12]} to {record.new[:12]} "
            f"was interrupted, and {shown} now hold(s) content that is neither version: orch-tui leaves "
            f"your checkout as it is. Keep what you need, restore those files with `git checkout "
            f"{record.old[:12]} -- <file>` (or delete the ones {record.old[:12]} lacks), then run orch-tui again.")
    changed = [path for path in paths if files.get(path) != old.get(path) or index.get(path) != old.get(path)]
    in_old = [path for path in changed if old.get(path)]
    added = [path for path in changed if not old.get(path)]
    for chunk in _chunks(in_old):
        run_git(checkout, "--literal-pathspecs", "checkout", "--quiet", record.old, "--", *chunk)
    for chunk in _chunks(added):
        run_git(checkout, "--literal-pathspecs", "rm", "--cached", "--quiet", "--ignore-unmatch", "--", *chunk)
    for path in added:
        _remove_file(checkout, path)
    return len(changed)


def _chunks(paths: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(paths), _CHUNK):
        yield paths[start:start + _CHUNK]


def _tree_blobs(checkout: Path, commit: str, paths: list[str]) -> dict[str, str]:
    blobs: dict[str, str] = {}
    for chunk in _chunks(paths):
        out = run_git(checkout, "--literal-pathspecs", "ls-tree", "-r", "-z", commit, "--", *chunk).out
        for entry in nul_fields(out):
            meta, path = entry.split("\t", 1)
            blobs[path] = meta.split(" ")[2]
    return blobs


def _index_blobs(checkout: Path, paths: list[str]) -> dict[str, str]:
    blobs: dict[str, str] = {}
    for chunk in _chunks(paths):
        out = run_git(checkout, "--literal-pathspecs", "ls-files", "-s", "-z", "--", *chunk).out
        for entry in nul_fields(out):
            meta, path = entry.split("\t", 1)
            blobs[path] = meta.split(" ")[1]
    return blobs


def _worktree_blobs(checkout: Path, paths: list[str]) -> dict[str, str]:
    """The blob id of each path's file in the checkout (absent files are left out)."""
    blobs: dict[str, str] = {}
    for path in paths:
        full = checkout / path
        if full.is_symlink():  # git stores a link's target as the blob
            blobs[path] = run_git_with_input(checkout, "hash-object", "--stdin", "--no-filters",
                                             text=os.readlink(full)).out.strip()
        elif full.is_file():
            blobs[path] = run_git(checkout, "hash-object", "--path", path, "--", path).out.strip()
    return blobs


def _remove_file(checkout: Path, path: str) -> None:
    """Delete a file the interrupted update created, and the directories it left empty."""
    full = checkout / path
    if full.is_symlink() or full.is_file():
        full.unlink()
    parent = full.parent
    while parent != checkout and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
