"""`orch-tui import-openspec CHANGE-ID`: an OpenSpec change's unchecked tasks -> Beads tasks
with dependencies in group order, declared files and a link back (orchestration/tracker/openspec.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from orch_tui.orchestration.tracker.beads import open_store
from orch_tui.orchestration.tracker.openspec import ImportResult, import_change, read_change


def run(args: argparse.Namespace) -> int:
    repo = Path(getattr(args, "repo", Path("."))).expanduser().resolve()
    store = open_store(repo)  # BadInput with how to create .beads/ when there is none
    change = read_change(repo, args.change_id)
    result = import_change(repo, change, store)
    print(render(result, store.description))
    return 0


def render(result: ImportResult, store_description: str) -> str:
    change = result.change
    lines = [f"OpenSpec change {change.change_id} (read through {change.source}) "
             f"-> {store_description}"]
    for number, task_id in result.created.items():
        lines.append(f"  created {task_id}  task {number}")
    if result.existing:
        lines.append(f"  already imported: {len(result.existing)} task(s) "
                     f"({', '.join(result.existing.values())})")
    if result.skipped_done:
        lines.append(f"  skipped {result.skipped_done} checked (done) task(s)")
    for issue_id, depends_on in result.dependencies_added:
        lines.append(f"  {issue_id} depends on {depends_on}")
    lines += [f"note: {note}" for note in result.notes]
    if not result.created and not result.dependencies_added:
        lines.append("nothing new to import")
    else:
        lines.append("next: `orch-tui plan` shows the batch these tasks make")
    return "\n".join(lines)
