"""`orch-tui status`: lanes, reservations, the merge queue and the journal, without the UI.

Read-only: it works while an orchestrator runs (it never takes the instance lock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from orch_tui.app.terminal_text import literal
from orch_tui.orchestration.engine.instance_lock import InstanceLock
from orch_tui.orchestration.engine.journal import Journal
from orch_tui.orchestration.merging.queue import MergeQueue
from orch_tui.orchestration.engine.wiring import effective_config, resolve_repo
from orch_tui.orchestration.agents.usage import batch_usage_line
from orch_tui.orchestration.lanes.worktrees import WorktreePool


def collect(repo: Any, config: Any) -> dict[str, Any]:
    journal = Journal(repo).load()
    lock = InstanceLock(repo)
    lanes = WorktreePool.from_config(repo, config).lanes
    merge_state = MergeQueue(repo, config).merge_state()
    lanes_spent = journal.lanes if journal else []
    return {
        "repo": str(repo),
        "usage": {"tokens": sum(lane.tokens for lane in lanes_spent),
                  "cost": round(sum(lane.cost for lane in lanes_spent), 6),
                  "lanes": [{"lane": lane.lane, "task_id": lane.task_id, "tokens": lane.tokens,
                             "cost": lane.cost} for lane in lanes_spent]},
        "orchestrator": lock.holder() if lock.is_held() else None,
        "journal": journal.to_json() if journal else None,
        "lanes": [lane.to_dict() for lane in lanes],
        "merge": merge_state.to_dict() if merge_state else None,
        "reservations": asyncio.run(_reservations(repo, config)),
    }


async def _reservations(repo: Any, config: Any) -> dict[str, Any]:
    """Agent Mail's reservations when it is configured and answers; the local ledger's too
    (an orchestrator on `auto` that found no Agent Mail at its start keeps them there)."""
    from orch_tui.orchestration.reservations.local_ledger import LocalLedger

    local = await asyncio.to_thread(LocalLedger.for_repo(repo).active)
    answer: dict[str, Any] = {"url": config.agent_mail_url, "reachable": False, "entries": [],
                              "local_entries": [_local_json(entry) for entry in local]}
    if config.reservations != "local":
        answer.update(await _agent_mail_reservations(repo, config))
    return answer


async def _agent_mail_reservations(repo: Any, config: Any) -> dict[str, Any]:
    from orch_tui.orchestration.reservations.agent_mail import AgentMailError
    from orch_tui.orchestration.engine.wiring import make_agent_mail_reservations

    manager = make_agent_mail_reservations(repo, config, timeout=2.0)
    client = manager.client
    try:
        if not await client.liveness():
            return {"reachable": False}
        entries = await manager.refresh_ledger()
        return {"reachable": True, "entries": [_reservation_json(entry) for entry in entries]}
    except AgentMailError as error:
        return {"reachable": False, "error": str(error)}
    finally:
        await client.aclose()


def _local_json(entry: Any) -> dict[str, Any]:
    return {"path_pattern": entry.path_pattern, "agent": entry.agent, "exclusive": entry.exclusive,
            "reason": entry.reason, "expires_at": entry.expires_at.isoformat()}


def _reservation_json(entry: Any) -> dict[str, Any]:
    return {"path_pattern": entry.path_pattern, "agent": entry.agent, "lane": entry.lane,
            "exclusive": entry.exclusive, "conflicts": entry.conflicts,
            "expires_at": entry.expires_at.isoformat() if entry.expires_at else None}


def run(args: argparse.Namespace) -> int:
    repo = resolve_repo(args.repo)
    config = effective_config(repo, agent_mail_url=getattr(args, "agent_mail", None))
    status = collect(repo, config)
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    print(_human(status))
    return 0


class _LaneUsage:
    def __init__(self, entry: dict[str, Any]) -> None:
        self.lane, self.tokens, self.cost = int(entry["lane"]), int(entry["tokens"]), float(entry["cost"])


def journal_lanes_usage(status: dict[str, Any]) -> list[_LaneUsage]:
    return [_LaneUsage(entry) for entry in status["usage"]["lanes"]]


def _shown(value: Any) -> str:
    """Journal entries hold task ids; reservations come from the server: shown literally."""
    return literal(str(value))


def _human(status: dict[str, Any]) -> str:
    lines = [f"repository: {status['repo']}"]
    holder = status["orchestrator"]
    lines.append(f"orchestrator: running (pid {holder.get('pid')})" if holder else "orchestrator: not running")
    journal = status["journal"]
    lines.append(f"engine state: {journal['state'] if journal else 'idle (no journal)'}")
    if journal and journal.get("batch"):
        lines.append(f"batch: {', '.join(_shown(task_id) for task_id in journal['batch'])}")
    lines.append("lanes:")
    for lane in status["lanes"]:
        where = lane["branch"] or ("detached" if lane["exists"] else "not created")
        lines.append(f"  lane {lane['index']}: {_shown(where)}  {_shown(lane['path'])}")
    usage = batch_usage_line(journal_lanes_usage(status))
    if usage:
        lines.append(usage)
    merge = status["merge"]
    lines.append(f"merge: {merge['stage']} {_shown(merge['branch'])}" if merge else "merge: nothing in progress")
    reservations = status["reservations"]
    if not reservations["reachable"]:
        lines.append(f"reservations: Agent Mail not reachable at {reservations['url']}")
    else:
        lines.append(f"reservations in Agent Mail ({len(reservations['entries'])}):")
        for entry in reservations["entries"]:
            lines.append(f"  {_shown(entry['path_pattern'])}  {_shown(entry['agent'])}  expires {entry['expires_at']}")
    local = reservations["local_entries"]
    lines.append(f"local reservations ({len(local)}; other agents cannot see them):")
    for entry in local:
        lines.append(f"  {_shown(entry['path_pattern'])}  {_shown(entry['agent'])}  expires {entry['expires_at']}")
    return "\n".join(lines)
