"""How many git processes one clean merge costs, by kind of merge (a count, not a time).

    .venv/bin/python -m tests.benchmarks.run merge_git        # the table with targets
    .venv/bin/python -m tests.benchmarks.bench_merge_git -v   # by git command (-vv: every argv)

A `git` wrapper first on PATH logs each run's argv; each scenario merges on a small real
repository whose merge worktree already exists (the steady state of a session), the target
checked out in the person's checkout, no verify command.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orch_tui.orchestration.merging.queue import MergeQueue
from orch_tui.orchestration.settings.config import Config
from tests.benchmarks.harness import Result
from tests.support.helpers import git, make_repo

_WRAPPER = """#!/bin/sh
{{ printf '%s ' "$@" | tr '\\n' ' '; echo; }} >> "{log}"
exec "{git}" "$@"
"""


@contextmanager
def counted_git(scratch: Path) -> Iterator[Path]:
    """PATH starts with a `git` that appends its arguments to the returned log file."""
    real = shutil.which("git")
    assert real, "git is not on PATH"
    folder, log = scratch / "bin", scratch / "git.log"
    folder.mkdir()
    wrapper = folder / "git"
    wrapper.write_text(_WRAPPER.format(log=log, git=real))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    old_path = os.environ["PATH"]
    os.environ["PATH"] = f"{folder}{os.pathsep}{old_path}"
    try:
        yield log
    finally:
        os.environ["PATH"] = old_path


def _branch(repo: Path, name: str, file: str) -> None:
    git(repo, "branch", name, "main")
    scratch = repo.parent / f"wt-{file}"
    git(repo, "worktree", "add", "-q", str(scratch), name)
    (scratch / file).write_text(f"{file}\n")
    git(scratch, "add", "-A")
    git(scratch, "commit", "-q", "-m", f"add {file}")
    git(repo, "worktree", "remove", str(scratch))


def _scenario(root: Path, name: str, action: Scenario, branches: int) -> list[str]:
    """The git argv lines `run` costs on a fresh repository with a warm merge worktree."""
    repo = make_repo(root / name / "repo", {"README.md": "# r\n"})
    queue = MergeQueue(repo, Config(), root=root / name / "lanes")
    _branch(repo, "orch/warm-up", "warm.txt")
    git(repo, "commit", "-q", "--allow-empty", "-m", "main moves on")
    queue.merge("orch/warm-up")  # creates the merge worktree, learns the commit identity
    names = [f"orch/t-{n}" for n in range(1, branches + 1)]
    for number, branch in enumerate(names, start=1):
        _branch(repo, branch, f"f{number}.txt")
    git(repo, "commit", "-q", "--allow-empty", "-m", "main moves on")  # merge commits needed
    log = root / "git.log"
    log.write_text("")
    action(queue, names)
    lines = log.read_text().splitlines()
    log.write_text("")
    return lines


Scenario = Callable[[MergeQueue, list[str]], object]
SCENARIOS: dict[str, tuple[Scenario, int, float]] = {
    # title: (what runs, how many branches, target: git processes a branch at most)
    "merge": (lambda queue, names: queue.merge(names[0]), 1, 10),
    "merge_if_clean (a lane ends, others run)": (lambda queue, names: queue.merge_if_clean(names[0]), 1, 10),
    "merge_series_if_clean (3 lanes ended)": (
        lambda queue, names: queue.merge_series_if_clean(names), 3, 19 / 3),
    "end of batch: predict, order, merge": (
        lambda queue, names: (queue.suggested_order(queue.predict(names[:1])), queue.merge_state(),
                              queue.merge(names[0])), 1, 14),
}


def measure() -> list[tuple[str, int, list[str]]]:
    """(title, branches, git argv lines) of each scenario."""
    measured = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with counted_git(root):
            for number, (title, (action, branches, _)) in enumerate(SCENARIOS.items()):
                measured.append((title, branches, _scenario(root, f"scenario-{number}", action, branches)))
    return measured


def run() -> list[Result]:
    results = []
    for title, branches, lines in measure():
        target = SCENARIOS[title][2]
        each = len(lines) / branches
        results.append(Result(f"git runs a branch: {title}", each, "git", f"<= {target:.3g}",
                              each <= target + 1e-9))
    return results


def main() -> None:
    for title, branches, lines in measure():
        print(f"{len(lines):3d} git processes ({len(lines) / branches:.1f} a branch): {title}")
        for kind, count in Counter(_kind(line) for line in lines).most_common():
            print(f"      {count:2d} x git {kind}")
        if "-vv" in sys.argv:
            print(*(f"        git {line}" for line in lines), sep="\n")


def _kind(argv: str) -> str:
    words = [word for word in argv.split() if not word.startswith("-") and "=" not in word]
    return " ".join(words[:2]) if words[:1] == ["worktree"] else (words[0] if words else argv)


if __name__ == "__main__":
    main()
