"""`orch-tui plan [--repo PATH] [--json] [--batch-size N]`: the plan and the proposed batch, no UI.

Human-readable by default: the proposed batch (lane, id, priority, title, files, reason),
left-out tasks with reasons, the bv tracks, cycles, and which store was read. With `--json`,
one object `{"generated_at", "plan": <bv robot-plan object>, "batch": {...}}` on stdout.
Malformed tracker lines are warnings on stderr (path:line: message); the exit stays 0.
Exit 2 for bad usage or an unreadable tracker, with the message on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from orch_tui.app.terminal_text import literal
from orch_tui.orchestration.planning.batch import BatchChoice
from orch_tui.orchestration.tracker.beads import BdError, open_store
from orch_tui.orchestration.settings.config import check_batch_size, load_config
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.model import TaskGraph
from orch_tui.orchestration.planning.planner import PlanResult, make_plan

LEFT_OUT_SHOWN = 15
TRACKS_SHOWN = 12
TITLE_WIDTH = 72


def _repo(args: argparse.Namespace) -> Path:
    repo = Path(getattr(args, "repo", None) or ".")
    if not repo.is_dir():
        raise BadInput("no such directory", path=repo,
                       fix="pass --repo with the path of a repository that has a .beads folder")
    return repo


def _batch_size(args: argparse.Namespace, repo: Path) -> int:
    given = getattr(args, "batch_size", None)
    if given is not None:
        return check_batch_size(given)
    return load_config(repo).batch_size


def _load(repo: Path) -> tuple[TaskGraph, str]:
    store = open_store(repo)
    try:
        return store.load(), store.description
    except BdError as error:  # the tracker could not be read: bad input, not our failure
        raise BadInput(f"cannot read the tracker ({store.description}): {error}",
                       fix="run `bd doctor` in the repository") from None


def run(args: argparse.Namespace) -> int:
    repo = _repo(args)
    batch_size = _batch_size(args, repo)
    graph, store_description = _load(repo)
    for problem in graph.problems:
        print(f"warning: {literal(str(problem))}", file=sys.stderr)
    result = make_plan(graph, batch_size)
    try:
        if getattr(args, "json", False):
            json.dump(result.to_json(), sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            print_human(result, graph, store_description, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `orch-tui plan | head`: the reader left; that is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def print_human(result: PlanResult, graph: TaskGraph, store: str, out: TextIO) -> None:
    def say(text: str = "") -> None:
        out.write(text + "\n")

    proposal = result.proposal
    say(f"Proposed batch: {len(proposal.picked)} of up to {proposal.batch_size} tasks")
    if not proposal.picked:
        say("  (nothing to propose: no ready task can be dispatched; see the reasons below)")
    for lane, choice in enumerate(proposal.picked, start=1):
        _choice_lines(say, f"lane {lane}", choice)
    say()
    say(f"Left out: {len(proposal.left_out)}")
    for choice in proposal.left_out[:LEFT_OUT_SHOWN]:
        _choice_lines(say, "", choice)
    if len(proposal.left_out) > LEFT_OUT_SHOWN:
        say(f"  ... {len(proposal.left_out) - LEFT_OUT_SHOWN} more (`orch-tui plan --json` lists all)")
    say()
    _tracks(say, result.plan)
    say()
    _cycles(say, proposal.cycles)
    say()
    say(f"Store: {literal(store)}, {len(graph)} issues")


def _choice_lines(say: Any, label: str, choice: BatchChoice) -> None:
    head = f"{label:<7} " if label else ""
    say(f"  {head}{literal(choice.task_id)}  P{choice.priority}  {literal(choice.title, TITLE_WIDTH)}")
    indent = "  " + " " * len(head) + "  "
    if choice.picked or choice.files:
        files = ", ".join(literal(pattern) for pattern in choice.files) or "(none declared)"
        say(f"{indent}files: {files}")
    say(f"{indent}{'why' if choice.picked else 'why not'}: {literal(choice.reason)}")


def _tracks(say: Any, plan: dict[str, Any]) -> None:
    tracks = plan["tracks"]
    summary = plan["summary"]
    say(f"Tracks (bv robot-plan): {len(tracks)} tracks, {plan['total_actionable']} actionable, "
        f"{plan['total_blocked']} blocked")
    if summary["highest_impact"]:
        say(f"  highest impact: {literal(summary['highest_impact'])} ({summary['impact_reason']})")
    for track in tracks[:TRACKS_SHOWN]:
        ids = [literal(item["id"]) for item in track["items"]]
        shown = ", ".join(ids[:6]) + (f", ... {len(ids) - 6} more" if len(ids) > 6 else "")
        say(f"  {track['track_id']:<10} {len(ids):>3} item{'s' if len(ids) != 1 else ' '}  {shown}")
    if len(tracks) > TRACKS_SHOWN:
        say(f"  ... {len(tracks) - TRACKS_SHOWN} more tracks")


def _cycles(say: Any, cycles: list[list[str]]) -> None:
    if not cycles:
        say("Cycles: none")
        return
    say(f"Cycles: {len(cycles)} (every issue on a cycle stays blocked until one dependency is removed)")
    for cycle in cycles:
        say("  " + " -> ".join(literal(task_id) for task_id in [*cycle, cycle[0]]))
