"""Named states of the app, shared by the snapshot tests and `python -m tests.screenshots`.

Each scene returns the engine in that state and, optionally, keys to press once the app is
up (so screens reached by a key are shown the way a person reaches them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.events import LaneOutcome
from orch_tui.orchestration.engine.steps import MERGE_BRANCH, StepFailed
from orch_tui.orchestration.agents.transcript import TranscriptEntry
from tests.ui.scenario_engine import ScenarioEngine


@dataclass(frozen=True)
class Scene:
    name: str
    build: Callable[[], ScenarioEngine]
    press: tuple[str, ...] = ()
    theme: str = "textual-dark"
    description: str = ""


def idle() -> ScenarioEngine:
    return ScenarioEngine()


def mid_batch() -> ScenarioEngine:
    engine = ScenarioEngine()
    engine.run_lanes()
    engine.queue_merges()
    return engine


def sequential() -> ScenarioEngine:
    engine = ScenarioEngine()
    engine.sequential_mode()
    engine.view.batch_size = 2
    engine.run_lanes()
    return engine


def local() -> ScenarioEngine:
    engine = ScenarioEngine()
    engine.local_mode()
    engine.run_lanes(other_agent=False)
    return engine


def alert() -> ScenarioEngine:
    engine = mid_batch()
    engine.alert(lane=2)
    engine.fail(4, LaneOutcome.TIMED_OUT, "no answer from the agent for 1800 s")
    return engine


def stalled() -> ScenarioEngine:
    engine = mid_batch()
    view = engine.view.lanes[2]
    engine.emit(ev.LaneStalled(3, view.task_id or "", 184.0, "bash pytest -x tests/ (started)"))
    return engine


def merge_error() -> ScenarioEngine:
    engine = mid_batch()
    view = engine.view.lanes[0]
    failure = StepFailed(MERGE_BRANCH, RuntimeError("fatal: cannot lock ref 'refs/heads/main'"))
    engine.emit(ev.MergeStarted(view.task_id or "", f"orch/{view.task_id}"))
    engine.emit(ev.MergeCheckFailed(view.task_id or "", f"orch/{view.task_id}", str(failure)))
    engine.emit(ev.EngineStateChanged(EngineState.WAITING_FOR_PERSON.value, "merging the branch failed"))
    return engine


def proposed() -> ScenarioEngine:
    engine = ScenarioEngine()
    engine.propose_now()
    return engine


def conflict() -> ScenarioEngine:
    engine = mid_batch()
    engine.conflict()
    return engine


def needs_input() -> ScenarioEngine:
    engine = mid_batch()
    engine.spend(lane=1, tokens=18_400, cost=0.42)
    engine.spend(lane=4, tokens=2_310, cost=0.05)
    engine.ask_permission(lane=2)
    engine.ask_question(lane=3)
    return engine


def lane_detail() -> ScenarioEngine:
    engine = mid_batch()
    engine.spend(lane=1, tokens=18_400, cost=0.42)
    engine.transcripts[1] = [
        TranscriptEntry("user", "You are the coder agent for task orch-c1: Config loader accepts TOML\n..."),
        TranscriptEntry("assistant", "I will add a health endpoint and check it with the tests."),
        TranscriptEntry("tool", "", "write src/api/health.py", "completed"),
        TranscriptEntry("tool", "FAILED tests/test_health.py::test_ok - [red]AssertionError[/red] \x1b[31m",
                        "bash pytest -q tests/test_health.py", "completed"),
        TranscriptEntry("tool", "Could not find oldString in the file.", "edit src/api/health.py", "error"),
        TranscriptEntry("error", "model request failed: 429 Too Many Requests"),
    ]
    return engine


def question_waits() -> ScenarioEngine:
    engine = mid_batch()
    engine.ask_question(lane=3)
    return engine


def lane_checks() -> ScenarioEngine:
    engine = mid_batch()
    engine.prepare_lanes()
    engine.check_lane(1, passed=True)
    engine.check_lane(2, passed=False)
    engine.queue_merges()
    return engine


def check_held() -> ScenarioEngine:
    engine = lane_checks()
    engine.hold_for_check(2)
    return engine


def approval_after_check() -> ScenarioEngine:
    """The next batch: a task sent back after its lane check failed comes first."""
    engine = check_held()
    retried = engine.view.held.task_id
    engine.emit(ev.CheckHoldAnswered(retried, f"orch/{retried}", "retry"))
    engine.emit(ev.EngineStateChanged("idle", "batch finished"))
    engine.pinned = [retried]
    engine.propose_now()
    return engine


SCENES = (
    Scene("dashboard_idle", idle, description="the dashboard before any batch"),
    Scene("dashboard_mid_batch", mid_batch, description="four lanes at work with live diffs"),
    Scene("dashboard_sequential", sequential, description="Agent Mail down: sequential mode"),
    Scene("dashboard_alert", alert, description="an agent edited outside its reservation; a lane timed out"),
    Scene("dashboard_stalled", stalled, description="a lane whose agent has been silent for 3 minutes"),
    Scene("dashboard_merge_error", merge_error, description="a merge step failed: the queue waits for a person"),
    Scene("merge_stopped", merge_error, press=("m",), description="m on a stopped merge: its output, try again or abort"),
    Scene("approval", proposed, description="the approval gate for a proposed batch"),
    Scene("conflict", conflict, description="a merge conflict: 2 files, 3 hunks"),
    Scene("help", idle, press=("question_mark",), description="help over the dashboard"),
    Scene("abort_lane", mid_batch, press=("k",), description="k asks before it stops the agent of a lane"),
    Scene("dashboard_needs_input", needs_input,
          description="two agents wait for a person: a bash permission and a question"),
    Scene("input_request", needs_input, press=("n",), description="n: the oldest request, answered in place"),
    Scene("input_request_question", question_waits, press=("n",),
          description="a question with options, answered by number or typed"),
    Scene("lane_detail", lane_detail, press=("tab", "tab", "enter"),
          description="Enter on a lane: its whole diff, file by file"),
    Scene("lane_detail_transcript", lane_detail, press=("tab", "tab", "enter", "t"),
          description="the lane's transcript: messages, tool calls and errors"),
    Scene("dashboard_mid_batch_light", mid_batch, theme="textual-light", description="light theme"),
    Scene("approval_light", proposed, theme="textual-light", description="approval gate, light theme"),
    Scene("dashboard_lane_checks", lane_checks,
          description="lane environments (ports, copied files, setup) and lane checks in the merge queue"),
    Scene("check_held", check_held, description="a failed lane check holds its merge: merge anyway, retry, drop"),
    Scene("approval_after_check", approval_after_check,
          description="the next batch's approval shows the last lane check of a retried task"),
    Scene("dashboard_local", local, description="no Agent Mail: four lanes on the local reservation ledger"),
)
SIZES = {"small": (100, 30), "large": (160, 48)}
"""100x30 is the smallest supported size; 160x48 shows how a large terminal is used."""
