"""Before a run starts: can orch-tui write every place it will write?

A run writes the tracker (`.beads/`, JSONL store only: bd writes its own database), its state
under the git directory (`.git/orch-tui/`), and the lane worktrees (the pool root). Finding a
read-only directory or a full disk halfway through a batch would leave a task marked
in_progress with no lane, so each place is probed once, by creating and removing a file
there, and a problem stops the run before anything changes, naming the directory and the fix.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

from orch_tui.orchestration.errors import BadInput

PROBE_BYTES = 4096
NO_SPACE_FIX = "free some space on that file system, then run orch-tui again"


def check_writable(directory: Path, what: str) -> None:
    """BadInput naming `directory` (described as `what`) unless a file can be created in it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory, prefix=".orch-tui-probe-") as probe:
            probe.write(b"\0" * PROBE_BYTES)  # an empty file fits on a full disk; a block does not
            probe.flush()
    except OSError as error:
        reason = error.strerror or str(error)
        fix = (NO_SPACE_FIX if error.errno in (errno.ENOSPC, errno.EDQUOT)
               else "make it writable by you (check its permissions, owner and mount), or run "
                    "orch-tui as the user who owns it")
        raise BadInput(f"orch-tui cannot write {what} in {directory}: {reason}", path=directory,
                       fix=fix) from None


def check_run_places(*, beads_dir: Path | None, state_dir: Path, pool_root: Path) -> None:
    """Every directory a run writes, in the order a person would fix them."""
    if beads_dir is not None:
        check_writable(beads_dir, "the Beads tracker")
    check_writable(state_dir, "its journal and state")
    check_writable(pool_root, "the lane worktrees")
