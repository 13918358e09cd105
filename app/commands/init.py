"""`orch-tui init`: install the /orch-* commands, skills, agents, oh-my-opencode entries and
WORKFLOW.md into a repository (see orchestration/setup/installer.py for the safety rules)."""

from __future__ import annotations

import argparse
from pathlib import Path

from orch_tui.orchestration.setup.installer import InstallReport, install


def run(args: argparse.Namespace) -> int:
    repo = Path(getattr(args, "repo", Path("."))).expanduser()
    report = install(repo, dry_run=bool(getattr(args, "dry_run", False)))
    print(render(report))
    return 0


def render(report: InstallReport) -> str:
    if not report.changed:
        lines = [f"orch-tui init: {report.repo} is up to date (nothing to change)"]
    else:
        verb = "would" if report.dry_run else "did"
        lines = [f"orch-tui init in {report.repo} ({verb}):"]
        lines += [f"  {change.describe()}" for change in report.changes]
    lines += [f"note: {note}" for note in report.notes]
    if report.changed and not report.dry_run:
        lines.append(f"oh-my-opencode config: {report.config_path}")
        lines.append("Restart OpenCode to load the new commands, skills and agents; "
                     "WORKFLOW.md explains the flow.")
    if report.dry_run and report.changed:
        lines.append("dry run: nothing was written")
    return "\n".join(lines)
