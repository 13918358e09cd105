"""The planner: ready work, the bv-compatible plan, and the proposed batch, behind one import.

One concept a module: `readiness` (bd 1.x ready rule and blockers), `cycles` (dependency
cycles), `robot_plan` (bv's `--robot-plan` object), `batch` (the batch choice with reasons).
Front ends and the engine import from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from orch_tui.orchestration.infra.gc_pause import gc_paused
from orch_tui.orchestration.planning.batch import NOT_CODER_WORK, BatchChoice, BatchProposal, propose_batch, propose_with_plan
from orch_tui.orchestration.planning.cycles import find_cycles
from orch_tui.orchestration.model import TaskGraph
from orch_tui.orchestration.planning.readiness import FINISHED_STATUSES, blockers, ready_tasks
from orch_tui.orchestration.planning.robot_plan import analyze_plan, robot_plan

__all__ = ["BatchChoice", "BatchProposal", "FINISHED_STATUSES", "NOT_CODER_WORK", "PlanResult",
           "blockers", "find_cycles", "make_plan", "plan_document", "propose_batch",
           "ready_tasks", "rfc3339", "robot_plan"]


def rfc3339(moment: datetime) -> str:
    """UTC seconds with a `Z`, as bv and Beads 1.x write timestamps."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PlanResult:
    """What `orch-tui plan` shows: bv's plan object and our batch, made at one moment."""

    generated_at: datetime
    plan: dict[str, Any]
    proposal: BatchProposal

    def to_json(self) -> dict[str, Any]:
        """`{"generated_at", "plan": <bv plan object>, "batch": <BatchProposal.to_json()>}`."""
        return {"generated_at": rfc3339(self.generated_at), "plan": self.plan,
                "batch": self.proposal.to_json()}


def make_plan(graph: TaskGraph, batch_size: int = 4, *, now: datetime | None = None,
              **batch_options: Any) -> PlanResult:
    """The bv plan and the proposed batch from one reading of the graph.

    `batch_options` are `propose_batch`'s: exclude, pinned, busy.
    """
    now = now or datetime.now(timezone.utc)
    with gc_paused():
        analysis = analyze_plan(graph)
        proposal = propose_with_plan(graph, analysis, batch_size, now=now, **batch_options)
    return PlanResult(now, analysis.plan, proposal)


def plan_document(graph: TaskGraph, batch_size: int = 4, *, now: datetime | None = None,
                  **batch_options: Any) -> dict[str, Any]:
    """The JSON object `orch-tui plan --json` prints."""
    return make_plan(graph, batch_size, now=now, **batch_options).to_json()
