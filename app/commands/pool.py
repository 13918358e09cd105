"""`orch-tui pool [status|prune|reset LANE]`: look after the lane worktrees.

status lists each lane worktree with its branch, state, disk use and when it was last used;
prune removes lanes beyond the batch size and stale git worktree entries; reset returns one
lane to a clean detached checkout. What would be removed is printed before anything is done;
uncommitted work is never removed without --force. Prune and reset take the instance lock,
so they never run beside an orchestrator.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.engine.instance_lock import InstanceLock
from orch_tui.orchestration.lanes.pool_care import (PoolAction, PoolReport, age_text, carry_out_prune,
                                              carry_out_reset, human_bytes, plan_prune, plan_reset,
                                              pool_report)
from orch_tui.orchestration.engine.wiring import effective_config, resolve_repo
from orch_tui.orchestration.lanes.worktrees import pool_root


def run(args: argparse.Namespace) -> int:
    repo = resolve_repo(args.repo)
    config = effective_config(repo, batch_size=getattr(args, "batch_size", None))
    root = pool_root(repo, config.worktree_dir)
    if args.action == "status":
        return _status(pool_report(repo, root, config.batch_size), as_json=args.json)
    if args.action == "reset" and args.lane is None:
        raise BadInput("orch-tui pool reset needs the lane to reset", fix="e.g. `orch-tui pool reset 2`")
    lock = InstanceLock(repo)
    lock.acquire()  # raises, naming the running orchestrator, if there is one
    try:
        report = pool_report(repo, root, config.batch_size)
        if args.action == "prune":
            actions = plan_prune(report, force=args.force)
        else:
            actions = [plan_reset(report, args.lane, force=args.force)]
        if not args.json:  # said before it is done
            _say_plan(actions, dry_run=args.dry_run)
        done = [] if args.dry_run else _carry_out(repo, args.action, actions)
    finally:
        lock.release()
    return _report(actions, done, dry_run=args.dry_run, as_json=args.json)


def _carry_out(repo: Any, action: str, actions: list[PoolAction]) -> list[str]:
    if action == "prune":
        return carry_out_prune(repo, actions)
    return carry_out_reset(repo, actions[0])


def _status(report: PoolReport, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(f"pool: {report.root}  ({len(report.entries)} worktrees, {human_bytes(report.total_bytes)}, "
          f"batch size {report.batch_size})")
    for entry in report.entries:
        where = entry.branch or "detached"
        print(f"  {entry.name:<8} {entry.state:<12} {where:<28} {human_bytes(entry.disk_bytes):>9}  "
              f"used {age_text(entry.last_used)} ago")
        for path in entry.uncommitted[:5]:
            print(f"           uncommitted: {path}")
    return 0


def _say_plan(actions: list[PoolAction], *, dry_run: bool) -> None:
    if not actions:
        print("nothing to do: no lane beyond the batch size and no stale entry")
    for action in actions:
        prefix = "would " if dry_run and action.what != "keep" else ("will " if action.what != "keep" else "")
        print(f"{prefix}{action.describe()}", flush=True)


def _report(actions: list[PoolAction], done: list[str], *, dry_run: bool, as_json: bool) -> int:
    refused = [action for action in actions if action.what == "keep"]
    if as_json:
        print(json.dumps({"dry_run": dry_run, "plan": [action.to_dict() for action in actions], "done": done},
                         indent=2))
        return 1 if refused else 0
    for line in done:
        print(f"done: {line}")
    return 1 if refused else 0
