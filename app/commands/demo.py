"""`orch-tui demo`: the whole flow in a throwaway repository, with scripted agents."""

from __future__ import annotations

import argparse
import sys

from orch_tui.app.demo_repo import create_demo_repo


def run(args: argparse.Namespace) -> int:
    repo = create_demo_repo(args.dir)
    if args.setup_only:
        print(f"demo repository ready: {repo}")
        print(f"  dashboard:  orch-tui --repo {repo}")
        print(f"  headless:   orch-tui run --repo {repo} --yes --agent scripted")
        return 0
    from orch_tui.app.commands import dashboard

    print(f"demo repository: {repo}", file=sys.stderr)
    args.repo = repo
    args.agent = "scripted"
    return dashboard.run(args)
