"""A deterministic, in-memory `EngineCommands` for UI tests and screenshots.

It records every command it receives (`calls`), answers them the way the real engine does
(re-proposing after drop/swap/size changes, refusing to continue a merge with hunks left,
emitting ConflictChanged after each resolution and GraphReloaded whenever it "reads the
tracker") and has helpers that put it in a state by emitting the same events the engine
emits. Its snapshot is folded by the engine's own reducer. Time is frozen at `FROZEN_NOW`
unless a test moves `now`.
"""

from __future__ import annotations

import copy
from msgspec.structs import replace  # Task is a msgspec Struct
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orch_tui.app.engine_mirror import copy_snapshot
from orch_tui.orchestration import events as ev
from orch_tui.orchestration.planning.batch import propose_batch
from orch_tui.orchestration.commands import EngineSnapshot, EngineState, HunkChoice
from orch_tui.orchestration.merging.conflicts import Conflict, ConflictFile, Hunk
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.lane_check import CheckAnswer, CheckResult
from orch_tui.orchestration.events import EventSink, LaneOutcome, Mode
from orch_tui.orchestration.model import Dependency, Reservation, Task, TaskGraph
from orch_tui.orchestration.engine.snapshot_reducer import apply_event
from orch_tui.orchestration.agents.transcript import TranscriptEntry

FROZEN_NOW = datetime(2026, 5, 4, 9, 30, 0, tzinfo=timezone.utc).timestamp()
HOSTILE_TITLE = "[red]not red[/red] \x1b[31mstill plain\x1b[0m " + "long " * 60


def _task(task_id: str, title: str, *, status: str = "open", priority: int = 2, kind: str = "task",
          files: str = "", parent: str | None = None, blocked_by: tuple[str, ...] = ()) -> Task:
    deps = tuple(Dependency(task_id, other) for other in blocked_by)
    if parent:
        deps += (Dependency(task_id, parent, "parent-child"),)
    description = f"Files: {files}\n\nDo the work described in the title." if files else "No files declared."
    return Task(task_id, title, status=status, priority=priority, issue_type=kind,
                description=description, dependencies=deps)


def small_graph() -> TaskGraph:
    """Two epics and loose tasks: ready, blocked, in progress, closed, and a hostile title."""
    tasks = [
        _task("orch-api", "API epic", kind="epic", priority=1),
        _task("orch-a1", "Add /health endpoint", parent="orch-api", priority=1, files="src/api/health.py"),
        _task("orch-a2", "Rate-limit the API", parent="orch-api", files="src/api/limits.py",
              blocked_by=("orch-a1",)),
        _task("orch-a3", "Document the API", parent="orch-api", status="closed", files="docs/api.md"),
        _task("orch-ui", "Dashboard epic", kind="epic", priority=2),
        _task("orch-u1", "Dark theme toggle", parent="orch-ui", priority=1, files="src/ui/theme.py"),
        _task("orch-u2", "Keyboard help overlay", parent="orch-ui", status="in_progress", files="src/ui/help.py"),
        _task("orch-c1", "Config loader accepts TOML", priority=0, files="src/config/**"),
        _task("orch-c2", "Config: env overrides", priority=2, files="src/config/env.py"),
        _task("orch-d1", "CHANGELOG for 0.2", priority=3, files="CHANGELOG.md"),
        _task("orch-x1", HOSTILE_TITLE, priority=3, files="src/x/**"),
        _task("orch-m1", "Migrate storage", priority=2, files="src/storage/**", blocked_by=("orch-c1",)),
    ]
    return TaskGraph({task.id: task for task in tasks}, source="scenario")


LANE_DIFFS = {
    1: ("src/api/health.py", '''diff --git a/src/api/health.py b/src/api/health.py
new file mode 100644
--- /dev/null
+++ b/src/api/health.py
@@ -0,0 +1,12 @@
+"""Liveness endpoint."""
+
+from fastapi import APIRouter
+
+router = APIRouter()
+
+
+@router.get("/health")
+def health() -> dict[str, str]:
+    return {"status": "ok"}
'''),
    2: ("src/ui/theme.py", '''diff --git a/src/ui/theme.py b/src/ui/theme.py
--- a/src/ui/theme.py
+++ b/src/ui/theme.py
@@ -3,7 +3,9 @@ from textual.app import App
 THEMES = ("dark", "light")
-DEFAULT = "dark"
+DEFAULT = "light"
+
+def toggle(current: str) -> str:
+    return THEMES[1 - THEMES.index(current)]
 
 class Themed(App):
-    pass
+    theme = DEFAULT
'''),
    3: ("src/config/loader.py", '''diff --git a/src/config/loader.py b/src/config/loader.py
--- a/src/config/loader.py
+++ b/src/config/loader.py
@@ -1,4 +1,6 @@
-import json
+import tomllib
+from pathlib import Path
 
-def load(path):
-    return json.load(open(path))
+def load(path: Path) -> dict:
+    with path.open("rb") as handle:
+        return tomllib.load(handle)
'''),
    4: ("CHANGELOG.md", '''diff --git a/CHANGELOG.md b/CHANGELOG.md
--- a/CHANGELOG.md
+++ b/CHANGELOG.md
@@ -1,3 +1,8 @@
 # Changelog
+
+## 0.2
+- /health endpoint
+- TOML configuration
+- [bold]markup stays literal[/bold] \x1b[1mand escapes vanish\x1b[0m
'''),
}


def two_file_conflict(worktree: str | None = None) -> Conflict:
    """A stopped merge: src/config/loader.py with two hunks, CHANGELOG.md with one."""
    loader = ConflictFile("src/config/loader.py", "content", True, True, True, hunks=[
        Hunk(0, 3, "import json\n", "import json\nimport yaml\n", "import tomllib\n",
             '"""Configuration."""\n\n', "\n\ndef load(path):\n"),
        Hunk(1, 9, "    return json.load(open(path))\n", "    return yaml.safe_load(open(path))\n",
             "    with path.open('rb') as handle:\n        return tomllib.load(handle)\n",
             "def load(path):\n", ""),
    ], messages=["CONFLICT (content): Merge conflict in src/config/loader.py"])
    changelog = ConflictFile("CHANGELOG.md", "content", True, True, True, hunks=[
        Hunk(0, 3, "", "## 0.2\n- YAML configuration\n", "## 0.2\n- TOML configuration\n",
             "# Changelog\n\n", "\n## 0.1\n"),
    ], messages=["CONFLICT (content): Merge conflict in CHANGELOG.md"])
    conflict = Conflict("orch/orch-c1", "orch-c1", "main", "1a2b3c4d5e", "9f8e7d6c5b",
                        [loader, changelog], messages=["Automatic merge failed; fix conflicts"])
    conflict.worktree = worktree  # type: ignore[attr-defined]  (where `e` opens the file)
    return conflict


class ScenarioEngine:
    """EngineCommands over a hand-built graph; every command is appended to `calls`."""

    def __init__(self, graph: TaskGraph | None = None, *, batch_size: int = 4) -> None:
        self.now = FROZEN_NOW
        self.calls: list[tuple[Any, ...]] = []
        self.sinks: list[EventSink] = []
        self.dropped: set[str] = set()
        self.pinned: list[str] = []
        self.view = EngineSnapshot(batch_size=batch_size, graph=graph if graph is not None else small_graph())
        self.transcripts: dict[int, list[TranscriptEntry]] = {}
        self.follow_up_refused: str | None = None
        """What follow_up_refusal says for a running lane (None: the agent takes follow-ups)."""

    # ----- EngineCommands -----------------------------------------------------------------
    def clock(self) -> float:
        return self.now

    def subscribe(self, sink: EventSink) -> None:
        self.sinks.append(sink)

    def snapshot(self) -> EngineSnapshot:
        return copy_snapshot(self.view)

    async def propose(self) -> None:
        self.calls.append(("propose",))
        self.propose_now()

    async def approve(self) -> None:
        self.calls.append(("approve",))
        proposal = self._require_proposal()
        self.emit(ev.BatchApproved(tuple(c.task_id for c in proposal.picked)))
        self.emit(ev.EngineStateChanged(EngineState.RUNNING.value, f"{len(proposal.picked)} lane(s)"))

    async def reject(self, reason: str = "") -> None:
        self.calls.append(("reject", reason))
        self._require_proposal()
        self.emit(ev.BatchRejected(reason))
        self.emit(ev.EngineStateChanged(EngineState.IDLE.value, "batch rejected"))

    async def drop_task(self, task_id: str) -> None:
        self.calls.append(("drop_task", task_id))
        self._require_proposal()
        self.dropped.add(task_id)
        self.propose_now()

    async def swap_task(self, task_id: str) -> None:
        self.calls.append(("swap_task", task_id))
        proposal = self._require_proposal()
        self.pinned = [c.task_id for c in proposal.picked if c.task_id != task_id]
        self.dropped.add(task_id)
        self.propose_now()

    async def set_batch_size(self, size: int) -> None:
        self.calls.append(("set_batch_size", size))
        self.emit(ev.BatchSizeChanged(size))
        if self.view.proposal is not None:
            self.propose_now()

    async def abort_lane(self, lane: int) -> None:
        """Like the engine: the agent stops, its work is kept and the task reopened."""
        self.calls.append(("abort_lane", lane))
        view = self.view.lanes[lane - 1] if 0 < lane <= len(self.view.lanes) else None
        if view is None or not view.task_id or view.outcome is not None:
            raise OrchError(f"lane {lane} is not running")
        self.emit(ev.LaneFinished(lane, view.task_id, LaneOutcome.ABORTED, "aborted by a person"))

    async def retry_task(self, task_id: str) -> None:
        self.calls.append(("retry_task", task_id))
        if task_id not in self.pinned:
            self.pinned.insert(0, task_id)
        self.dropped.discard(task_id)
        self.emit(ev.LogLine(f"{task_id} will be proposed first in the next batch"))

    async def resolve_hunk(self, path: str, hunk: int, choice: HunkChoice) -> None:
        self.calls.append(("resolve_hunk", path, hunk, HunkChoice(choice).value))
        record = self._fresh_conflict()
        self._file(record, path).hunks[hunk].resolution = HunkChoice(choice).value
        self._conflict_changed(record, f"{path}: hunk {hunk + 1} takes {HunkChoice(choice).value}")

    async def resolve_file(self, path: str, choice: HunkChoice) -> None:
        self.calls.append(("resolve_file", path, HunkChoice(choice).value))
        record = self._fresh_conflict()
        self._file(record, path).resolution = HunkChoice(choice).value
        self._conflict_changed(record, f"{path}: takes {HunkChoice(choice).value}")

    async def write_resolution(self, path: str, content: str) -> None:
        self.calls.append(("write_resolution", path, content))
        record = self._fresh_conflict()
        self._file(record, path).resolution = "custom"
        self._conflict_changed(record, f"{path}: resolved by hand")

    async def continue_merge(self) -> None:
        self.calls.append(("continue_merge",))
        conflict = self._require_conflict()
        if conflict.unresolved:
            raise OrchError(f"still in conflict: {', '.join(conflict.unresolved)}")
        self.emit(ev.ConflictChanged(None))
        self.emit(ev.EngineStateChanged(EngineState.MERGING.value))
        self.emit(ev.MergeDone(conflict.task_id or "", conflict.branch, "c0ffee1234567890"))
        self._finish_batch(closed=conflict.task_id)

    async def abort_merge(self) -> None:
        self.calls.append(("abort_merge",))
        self._require_conflict()
        self.emit(ev.ConflictChanged(None))
        self.emit(ev.EngineStateChanged(EngineState.MERGING.value, "merge aborted by a person"))
        self._finish_batch()

    async def pause(self) -> None:
        self.calls.append(("pause",))

    async def answer_input(self, lane: int, request_id: str, answer: ev.InputAnswer, by: str = "a person") -> None:
        """Like the engine: the runner replies and the lane stops waiting."""
        self.calls.append(("answer_input", lane, request_id, answer))
        view = self.view.lanes[lane - 1] if 0 < lane <= len(self.view.lanes) else None
        if view is None or all(request.id != request_id for request in view.inputs):
            raise OrchError(f"lane {lane}: its agent is not waiting on request {request_id}")
        self.emit(ev.LaneInputAnswered(lane, view.task_id or "", request_id, answer.describe(), by))
    async def answer_check(self, task_id: str, answer: CheckAnswer) -> None:
        self.calls.append(("answer_check", task_id, CheckAnswer(answer).value))
        held = self.view.held
        if held is None or held.task_id != task_id:
            raise OrchError("no merge is held for a failed lane check")
        self.emit(ev.CheckHoldAnswered(task_id, held.branch, CheckAnswer(answer).value))
        self.emit(ev.EngineStateChanged(EngineState.MERGING.value))

    # ----- helpers that set a scene ---------------------------------------------------------
    def emit(self, event: ev.Event) -> None:
        apply_event(self.view, event, clock=self.clock)  # the engine's own reducer
        for sink in list(self.sinks):
            sink(event)

    def propose_now(self) -> Any:
        graph = self.view.graph or TaskGraph()
        self.emit(ev.GraphReloaded(graph))  # the engine reads the tracker before each proposal
        proposal = propose_batch(graph, self.view.batch_size, exclude=self.dropped, pinned=self.pinned,
                                 now=datetime.fromtimestamp(self.now, timezone.utc))
        self.emit(ev.BatchProposed(proposal))
        self.emit(ev.EngineStateChanged(EngineState.PROPOSED.value, f"{len(proposal.picked)} task(s) proposed"))
        return proposal

    def run_lanes(self, *, with_diffs: bool = True, other_agent: bool = True) -> None:
        """Approve the proposed batch (proposing one if needed) and put every lane mid-task."""
        proposal = self.view.proposal or self.propose_now()
        picked = proposal.picked
        self.emit(ev.BatchApproved(tuple(c.task_id for c in picked)))
        self.emit(ev.EngineStateChanged(EngineState.RUNNING.value, f"{len(picked)} lane(s)"))
        actions = ("editing src/api/health.py", "running pytest -q tests/ui", "reading docs/config.md",
                   "writing CHANGELOG.md")
        reservations = []
        for lane, choice in enumerate(picked, start=1):
            self.emit(ev.LaneStarted(lane, choice.task_id, choice.title, f"orch/{choice.task_id}",
                                     f"/tmp/pool/lane-{lane}"))
            self.view.lanes[lane - 1].started_at = self.now - 37 - 61 * lane
            self.emit(ev.LaneProgress(lane, choice.task_id, "busy", actions[(lane - 1) % len(actions)]))
            if with_diffs and lane in LANE_DIFFS:
                path, diff = LANE_DIFFS[lane]
                self.emit(ev.LaneDiff(lane, choice.task_id, diff, (path,)))
            for pattern in choice.files:
                reservations.append(Reservation(pattern, f"lane-{lane}", lane, True,
                                                datetime.fromtimestamp(self.now + 600 + 120 * lane, timezone.utc)))
        if other_agent:  # only Agent Mail shows other agents' reservations
            reservations.append(Reservation("src/config/**", "other-agent", None, True,
                                            datetime.fromtimestamp(self.now + 45, timezone.utc), conflicts=True))
        self.emit(ev.ReservationsChanged(tuple(reservations)))

    def prepare_lanes(self) -> None:
        """Every lane's environment as `lane_ports`, `lane_copy` and a warm setup leave it."""
        for view in self.view.lanes:
            if view.task_id:
                first = 42000 + 10 * (view.lane - 1)
                self.emit(ev.LaneEnvironmentReady(view.lane, view.task_id, tuple(range(first, first + 10)),
                                                  (".env", "config/local.toml"),
                                                  "ran in 4.2 s" if view.lane == 1 else "skipped: uv.lock unchanged"))

    def check_lane(self, lane: int, passed: bool) -> CheckResult:
        """The lane's agent finished and its check ran (and passed or failed)."""
        view = self.view.lanes[lane - 1]
        check = CheckResult(True, 3.4, "12 passed in 3.2s", "uv run pytest -q", "passed") if passed else \
            CheckResult(False, 2.1, "tests/test_health.py::test_health_json FAILED\n"
                        "E   assert 'status' in {'ok': True}\n1 failed, 11 passed in 1.9s",
                        "uv run pytest -q", "the check exited with status 1 after 2.1 s")
        self.emit(ev.LaneCheckFinished(lane, view.task_id or "", f"orch/{view.task_id}", check))
        self.emit(ev.LaneFinished(lane, view.task_id or "", LaneOutcome.SUCCEEDED,
                                  "agent command exited with status 0" + ("" if passed else
                                                                         "; lane check failed: its merge waits for a person")))
        return check

    def hold_for_check(self, lane: int) -> None:
        view = self.view.lanes[lane - 1]
        check = self.view.checks[view.task_id or ""]
        self.emit(ev.MergeHeldForCheck(view.task_id or "", f"orch/{view.task_id}", check))
        self.emit(ev.EngineStateChanged(EngineState.WAITING_FOR_PERSON.value,
                                        f"{view.task_id}: lane check failed; merge anyway, retry or drop"))

    def sequential_mode(self) -> None:
        self.emit(ev.ModeChanged(Mode.SEQUENTIAL, "Agent Mail at 127.0.0.1:8765 does not answer"))

    def local_mode(self) -> None:
        self.emit(ev.ModeChanged(Mode.LOCAL, "local reservations: other agents cannot see them; "
                                             "no Agent Mail at http://127.0.0.1:8765"))

    def alert(self, lane: int = 2) -> None:
        view = self.view.lanes[lane - 1]
        self.emit(ev.LaneAlert(lane, view.task_id or "", ("src/config/defaults.py",),
                               "edited src/config/defaults.py outside its reservation"))

    def fail(self, lane: int, outcome: LaneOutcome = LaneOutcome.FAILED, reason: str = "agent exited 1") -> None:
        view = self.view.lanes[lane - 1]
        self.emit(ev.LaneFinished(lane, view.task_id or "", outcome, reason))

    def follow_up_refusal(self, lane: int) -> str | None:
        view = self.view.lanes[lane - 1] if 0 < lane <= len(self.view.lanes) else None
        if view is None or not view.task_id or view.outcome is not None:
            return f"lane {lane} is not running"
        return self.follow_up_refused

    async def follow_up(self, lane: int, text: str) -> None:
        self.calls.append(("follow_up", lane, text))
        refusal = self.follow_up_refusal(lane)
        if refusal:
            raise OrchError(f"cannot send lane {lane} a follow-up: {refusal}")
        self.transcripts.setdefault(lane, []).append(TranscriptEntry("user", text))

    async def lane_transcript(self, lane: int) -> tuple[TranscriptEntry, ...]:
        return tuple(self.transcripts.get(lane, ()))

    def spend(self, lane: int, tokens: int, cost: float) -> None:
        view = self.view.lanes[lane - 1]
        self.emit(ev.LaneProgress(lane, view.task_id or "", "busy", tokens=tokens, cost=cost))

    def ask_permission(self, lane: int = 2, waited: float = 72.0) -> ev.InputRequest:
        view = self.view.lanes[lane - 1]
        request = ev.InputRequest(
            f"per_{lane}", ev.InputKind.PERMISSION, "bash",
            "run: rm -rf build/ && echo '[red]done[/red]' \x1b[31m", asked_at=self.now - waited,
            detail="'always' allows from now on: rm *")
        self.emit(ev.LaneNeedsInput(lane, view.task_id or "", request))
        return request

    def ask_question(self, lane: int = 3, waited: float = 15.0) -> ev.InputRequest:
        view = self.view.lanes[lane - 1]
        question = ev.InputQuestion("Keep the old [bold]config[/bold] format as a fallback?", "Fallback",
                                    ("Keep it", "Drop it"), ("readers of old files keep working",
                                                             "simpler code, one format"))
        request = ev.InputRequest(f"que_{lane}", ev.InputKind.QUESTION, "question", question.text,
                                  questions=(question,), asked_at=self.now - waited)
        self.emit(ev.LaneNeedsInput(lane, view.task_id or "", request))
        return request

    def queue_merges(self) -> None:
        for order, view in enumerate(self.view.lanes, start=1):
            if view.task_id:
                conflicts = ("CHANGELOG.md",) if order == 3 else ()
                self.emit(ev.MergePredicted(view.task_id, f"orch/{view.task_id}", order, conflicts))

    def conflict(self, worktree: str | Path | None = None) -> Conflict:
        record = two_file_conflict(str(worktree) if worktree else None)
        self.emit(ev.MergeStarted(record.task_id or "", record.branch))
        self.emit(ev.MergeConflict(record.task_id or "", record.branch, tuple(f.path for f in record.files),
                                   record))
        self.emit(ev.EngineStateChanged(EngineState.WAITING_FOR_PERSON.value, "orch-c1: merge conflict"))
        return record

    # ----- internals ------------------------------------------------------------------------
    def _fresh_conflict(self) -> Conflict:
        """The engine reads a new record after each step; earlier ones are never changed."""
        return copy.deepcopy(self._require_conflict())

    def _conflict_changed(self, record: Conflict, line: str) -> None:
        self.emit(ev.ConflictChanged(record))
        self.emit(ev.LogLine(line))

    def _finish_batch(self, closed: str | None = None) -> None:
        """The engine reads the tracker again (a merged task is closed there now) and idles."""
        graph = self.view.graph or TaskGraph()
        if closed in graph.tasks:
            graph = TaskGraph({**graph.tasks, closed: replace(graph.tasks[closed], status="closed")},
                              source=graph.source)
        self.emit(ev.GraphReloaded(graph))
        self.emit(ev.EngineStateChanged(EngineState.IDLE.value, "batch finished"))

    def _require_proposal(self) -> Any:
        if self.view.proposal is None:
            raise OrchError("no batch is proposed: propose one first")
        return self.view.proposal

    def _require_conflict(self) -> Conflict:
        if self.view.conflict is None:
            raise OrchError("no merge is waiting for a person")
        return self.view.conflict

    @staticmethod
    def _file(conflict: Conflict, path: str) -> ConflictFile:
        for record in conflict.files:
            if record.path == path:
                return record
        raise OrchError(f"{path} is not in conflict")



