"""Making a lane ready to work in: the files the agent needs, and the setup command.

Copied files (`lane_copy`) come from the main checkout and must be ignored by git in the
lane, so they are never committed (leftovers are committed with `git add --all`, which
honours ignores) and so never merged. The setup command's fingerprint (its argv and the
content of `lane_setup_when_changed`, e.g. a lock file) is kept in the lane's private git
directory after a successful run; a warm lane whose fingerprint is unchanged skips setup.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.git_exec import nul_fields, run_git, run_git_with_input
from orch_tui.orchestration.infra.repo_paths import worktree_git_dir

FINGERPRINT_FILE = "orch-tui-setup.json"


class LaneCopyRefused(OrchError):
    """A `lane_copy` path that git would commit in the lane."""


@dataclass(frozen=True)
class CopyReport:
    copied: tuple[str, ...]
    missing: tuple[str, ...]
    """Listed in lane_copy but absent from the main checkout (nothing to copy)."""


def copy_into_lane(main: Path, worktree: Path, paths: Sequence[str],
                   already_verified: frozenset[str] = frozenset()) -> CopyReport:
    """Copy each of `paths` that exists in `main` into `worktree`; refuse any git would track.

    `already_verified` are paths known to be ignored under the lane's current commit and
    ignore rules (the caller keys that on both), so git need not be asked again."""
    present = [path for path in paths if os.path.lexists(main / path)]
    missing = tuple(path for path in paths if path not in present)
    if not present:
        return CopyReport((), missing)
    exposed = _not_ignored(worktree, [path for path in present if path not in already_verified])
    if exposed:
        # An earlier copy the lane still holds would be committed with the lane's leftovers now.
        _remove(worktree, exposed)
        raise LaneCopyRefused(
            f"lane_copy: {', '.join(exposed)} {'is' if len(exposed) == 1 else 'are'} not ignored by git "
            "(or tracked), so the copy could be committed and merged; add "
            f"{'it' if len(exposed) == 1 else 'them'} to .gitignore or remove {'it' if len(exposed) == 1 else 'them'} "
            "from lane_copy")
    for path in present:
        _copy(main / path, worktree / path)
    return CopyReport(tuple(present), missing)


def _not_ignored(worktree: Path, paths: list[str]) -> list[str]:
    """Those of `paths` git would commit in `worktree` (not ignored, or tracked)."""
    if not paths:
        return []
    # `git check-ignore` names the ignored (and untracked) ones among the paths given.
    result = run_git_with_input(worktree, "check-ignore", "-z", "--stdin", text="\0".join(paths) + "\0")
    if result.status not in (0, 1):
        raise OrchError(f"lane_copy: git check-ignore failed in {worktree}: {result.err.strip()}")
    ignored = set(nul_fields(result.out))
    return [path for path in paths if path not in ignored and path.rstrip("/") not in ignored]


def expose_check(worktree: Path, base: str, copied: Sequence[str]) -> str:
    """After the agent: why the lane's copies could reach a commit (empty when they cannot).

    A copy the agent committed fails the lane (its branch must never be merged: history would
    carry the file). A copy git would now commit (the agent changed the ignore rules) is
    deleted from the lane, so the leftovers commit cannot take it; the main checkout still has
    the original."""
    committed = nul_fields(run_git(worktree, "diff", "--name-only", "-z", base, "HEAD", "--", *copied).out)
    present = [path for path in copied if os.path.lexists(worktree / path)]
    exposed = _not_ignored(worktree, present)
    _remove(worktree, exposed)
    problems = []
    if committed:
        problems.append(f"the agent committed {', '.join(committed)}, copied into the lane by lane_copy; "
                        "the branch must not be merged: remove the file from its history before retrying")
    if exposed:
        problems.append(f"{', '.join(exposed)} (copied by lane_copy) became visible to git in the lane and "
                        "was removed from it so it is not committed; keep it in .gitignore")
    return "; ".join(problems)


def _remove(worktree: Path, paths: Sequence[str]) -> None:
    """Delete lane copies (the main checkout keeps the originals)."""
    for path in paths:
        target = worktree / path
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif os.path.lexists(target):
            target.unlink()


def ignore_rules_key(common_dir: Path, head: str | None) -> str | None:
    """What decides whether a lane's copies are ignored: its commit (tracked files and
    .gitignore files) and the repository's info/exclude. None when the commit is unknown."""
    if not head:
        return None
    exclude = common_dir / "info" / "exclude"
    try:
        rules = exclude.read_bytes()
    except OSError:
        rules = b""
    return head + ":" + hashlib.sha256(rules).hexdigest()


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()
        shutil.copy2(source, target, follow_symlinks=False)


def setup_fingerprint(worktree: Path, argv: Sequence[str], inputs: Sequence[str]) -> str:
    """A hash of the setup command and the content of its input files as the lane has them."""
    digest = hashlib.sha256(json.dumps(list(argv)).encode())
    for name in inputs:
        digest.update(b"\0" + name.encode() + b"\0")
        digest.update(_content_hash(worktree / name))
    return digest.hexdigest()


def _content_hash(path: Path) -> bytes:
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).digest()
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(child.relative_to(path)).encode() + b"\0" + _content_hash(child))
        return digest.digest()
    return b"missing"


def _fingerprint_path(worktree: Path) -> Path:
    return worktree_git_dir(worktree) / FINGERPRINT_FILE


def last_setup_fingerprint(worktree: Path) -> str | None:
    try:
        data = json.loads(_fingerprint_path(worktree).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # never set up, or a file we cannot read: setup runs (harmless)
    value = data.get("fingerprint") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def remember_setup(worktree: Path, fingerprint: str | None) -> None:
    """Keep the fingerprint of a successful setup; None forgets it (setup runs next time)."""
    path = _fingerprint_path(worktree)
    if fingerprint is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(json.dumps({"fingerprint": fingerprint}) + "\n", encoding="utf-8")
