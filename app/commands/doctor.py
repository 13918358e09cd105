"""`orch-tui doctor [--json]`: what orch-tui depends on, one row each, ok / warn / fail with the fix.

Exit code: 0 every row ok, 1 warnings only, 2 any failure (orchestration/setup/doctor.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from orch_tui.orchestration.setup.doctor import Check, exit_code, run_checks
from orch_tui.orchestration.engine.wiring import resolve_repo

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def run(args: argparse.Namespace) -> int:
    repo = resolve_repo(args.repo)
    rows = asyncio.run(run_checks(repo, agent=getattr(args, "agent", None),
                                  agent_mail_url=getattr(args, "agent_mail", None),
                                  start_server=not args.no_serve))
    if args.json:
        print(json.dumps({"repo": str(repo), "exit_code": exit_code(rows),
                          "checks": [row.to_json() for row in rows]}, indent=2))
    else:
        print(table(rows))
    return exit_code(rows)


def table(rows: list[Check]) -> str:
    width = max(len(row.name) for row in rows)
    lines = []
    for row in rows:
        lines.append(f"{MARKS[row.status.value]}  {row.name.ljust(width)}  {row.detail}")
        if row.fix:
            lines.append(f"      {' ' * width}  fix: {row.fix}")
    counts = {status: sum(row.status.value == status for row in rows) for status in MARKS}
    lines.append(f"\n{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s)")
    return "\n".join(lines)
