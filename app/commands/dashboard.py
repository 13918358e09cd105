"""`orch-tui` (no subcommand): the dashboard for the repository in the current directory."""

from __future__ import annotations

import argparse
from functools import partial


def run(args: argparse.Namespace) -> int:
    # Textual and the engine load only here, so headless commands stay fast.
    from orch_tui.app.app import OrchApp
    from orch_tui.orchestration.setup.doctor import run_checks
    from orch_tui.orchestration.lanes.pool_care import pool_disk_bytes
    from orch_tui.orchestration.engine.wiring import build_engine, effective_config, resolve_repo
    from orch_tui.orchestration.lanes.worktrees import pool_root

    repo = resolve_repo(args.repo)
    config = effective_config(repo, agent=getattr(args, "agent", None),
                              agent_mail_url=getattr(args, "agent_mail", None),
                              batch_size=getattr(args, "batch_size", None))
    engine = build_engine(repo, config)
    # The engine starts its own agent server: the checks need not start a second one.
    checks = partial(run_checks, repo, agent=config.agent, agent_mail_url=config.agent_mail_url,
                     start_server=False)
    root = pool_root(repo, config.worktree_dir)
    app = OrchApp(engine, manage_engine=True, startup_checks=checks, input_alert=config.input_alert,
                  pool_usage=lambda: pool_disk_bytes(root))
    app.run()
    if app.stopped_by is not None:
        interrupted = engine.interrupted_lanes()
        resumes = f"{len(interrupted)} interrupted lane(s) resume" if interrupted else "it goes on"
        print(f"orch-tui: stopped by {app.stopped_by.name}: agents stopped, journal saved. "
              f"Open `orch-tui` (or run `orch-tui run`) and {resumes}.")
        return 128 + app.stopped_by.value
    return 0
