"""The one runner interface every coder agent implements, and what all of them share.

The engine calls, per lane, `result = await runner.run(request, sink)`. Every runner:

- gives up after `request.timeout` seconds (an agent whose model server is down may retry
  for ever) and reports TIMED_OUT after stopping the agent (its whole process group);
- stops the agent and reports ABORTED when the coroutine running `run` is cancelled or when
  `await runner.abort(lane)` is called; cancellation is absorbed so the canceller can still
  `await` the task for its AgentResult;
- keeps a bounded log per lane (`AgentResult.log_tail`);
- judges the result from what the agent did (its events and the worktree), not only from an
  exit code, and never commits: the worktree pool commits leftovers afterwards.

`start()` and `close()` exist on every runner (the OpenCode server runner shares one server
between lanes); where nothing needs starting they do nothing.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import Event, EventSink, InputAnswer, LaneOutcome, LaneProgress
from orch_tui.orchestration.infra.git_exec import nul_fields, run_git
from orch_tui.orchestration.agents.transcript import TranscriptEntry, from_output_lines
from orch_tui.orchestration.agents.usage import Budget
from orch_tui.orchestration.model import Task

LOG_LINES = 400
LOG_LINE_CHARS = 2000


@dataclass(frozen=True)
class AgentRequest:
    lane: int
    task: Task
    worktree: Path
    base_commit: str
    reserved: tuple[str, ...]
    timeout: float
    report_files: bool = True
    """Fill `AgentResult.files_changed` (two git calls); the engine's live diff already knows."""
    mail_agent: str = ""
    """The lane's Agent Mail agent, which holds the reservations (empty: Agent Mail is down)."""
    mail_project: str = ""
    max_tokens: int | None = None
    max_cost: float | None = None
    """Budgets: the agent is stopped (ABORTED, saying which) once it spends more."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The lane's ORCH_* variables (ORCH_LANE, ORCH_TASK_ID, ORCH_WORKTREE, ORCH_PORT, ORCH_PORTS)."""
    follow_up: str = ""
    """Why the task came back (a failed lane check's output); empty on a first attempt."""


@dataclass(frozen=True)
class AgentResult:
    outcome: LaneOutcome
    reason: str = ""
    log_tail: list[str] = field(default_factory=list)
    files_changed: tuple[str, ...] = ()
    """Paths (relative to the worktree) that differ from the base: committed, modified or new."""


class LaneLog:
    """The last `limit` lines an agent produced, each cut to a sane length."""

    def __init__(self, limit: int = LOG_LINES) -> None:
        self._lines: deque[str] = deque(maxlen=limit)

    def add(self, line: str) -> None:
        line = line.rstrip("\n")
        if len(line) > LOG_LINE_CHARS:
            line = line[:LOG_LINE_CHARS] + " [...]"
        self._lines.append(line)

    def tail(self, count: int | None = None) -> list[str]:
        lines = list(self._lines)
        return lines if count is None else lines[-count:]


def task_slug(task_id: str) -> str:
    """A file-name-safe form of a task id (ids come from user data)."""
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", task_id).strip(".") or "task"
    return slug[:80]


def build_prompt(request: AgentRequest) -> str:
    """The coder agent's instructions: the task, where to work, and the boundaries."""
    task = request.task
    reserved = "\n".join(f"- {pattern}" for pattern in request.reserved) or "- (none declared)"
    parts = [
        f"You are the coder agent for task {task.id}: {task.title}",
        "",
        "## Task",
        task.description.strip() or "(no description)",
    ]
    if task.acceptance_criteria.strip():
        parts += ["", "## Acceptance criteria", task.acceptance_criteria.strip()]
    if task.design.strip():
        parts += ["", "## Design notes", task.design.strip()]
    if request.follow_up.strip():
        parts += ["", "## Follow-up", request.follow_up.strip()]
    parts += [
        "",
        "## Where you work",
        f"Your git worktree: {request.worktree}",
        "Files reserved for you (gitignore-style patterns, relative to the worktree):",
        reserved,
        *([f"Agent Mail: they are held by agent {request.mail_agent} in project {request.mail_project};"
           " reserve any extra file under that name."] if request.mail_agent else []),
        *([f"Ports leased to your lane (use these for any server you start): {request.env['ORCH_PORTS']}"
           f" (also in the environment as ORCH_PORT, the first, and ORCH_PORTS)."]
          if request.env.get("ORCH_PORTS") else []),
        "",
        "## Boundaries",
        "- Stay inside your worktree; do not read or write files anywhere else.",
        "- Change only files matching your reserved patterns; other lanes own the rest.",
        "- Do not merge, rebase, push or switch branches; the orchestrator merges.",
        f"- When the task is done, commit your changes in the worktree with a message starting with \"{task.id}:\".",
        "- If you cannot finish, say why in your final message and stop.",
    ]
    return "\n".join(parts) + "\n"


def changed_files(worktree: Path, base_commit: str) -> tuple[str, ...]:
    """Files that differ from `base_commit` in the worktree (commits, edits, new files)."""
    tracked = run_git(worktree, "diff", "--name-only", "-z", base_commit, check=False)
    untracked = run_git(worktree, "ls-files", "--others", "--exclude-standard", "-z", check=False)
    names = nul_fields(tracked.out) if tracked.ok else []
    names += nul_fields(untracked.out) if untracked.ok else []
    return tuple(sorted(set(names)))


class LastSignOfLife:
    """What the agent last did and when, so a timeout says where it got stuck and what to do."""

    def __init__(self) -> None:
        self.action = ""
        self.at: float | None = None

    def saw(self, event: Event) -> None:
        self.at = time.monotonic()
        if isinstance(event, LaneProgress) and event.action:
            self.action = event.action

    def describe(self, timeout: float) -> str:
        """Where the agent was when `timeout` ran out, and what to do about it."""
        if self.at is None:
            return ("; it never said anything: see the lane's log, check its model server, or raise "
                    "agent_timeout_seconds if it needs longer to start")
        silent = time.monotonic() - self.at
        said = f"; its last sign of life was {silent:.0f} s before" + (f": {self.action}" if self.action else "")
        if silent < timeout / 2:
            return f"{said}. It was still working: raise agent_timeout_seconds if the task needs longer"
        return (f"{said}. An agent silent that long is usually waiting on its model server (down, or "
                "stopped in the middle of a reply): check it, or raise agent_timeout_seconds if the task "
                "needs longer")


class RunnerBase:
    """Timeout, abort and bookkeeping around a runner's `_execute` coroutine.

    `_execute` does the work and returns (outcome, reason); when it is cancelled (timeout,
    abort) it must stop the agent before letting the cancellation through.
    """

    def __init__(self) -> None:
        self._running: dict[int, asyncio.Task[object]] = {}
        self._logs: dict[int, LaneLog] = {}
        """The last run's log of each lane (the transcript of agents without a session)."""

    async def start(self) -> None:
        """Nothing to start for this runner."""

    async def close(self) -> None:
        """Abort whatever still runs and wait (briefly) for those lanes to clean up."""
        tasks = [task for task in self._running.values() if task is not asyncio.current_task()]
        for lane in list(self._running):
            await self.abort(lane)
        if tasks:
            await asyncio.wait(tasks, timeout=15.0)

    async def abort(self, lane: int) -> None:
        """Stop the agent in `lane`; its `run` returns ABORTED."""
        task = self._running.get(lane)
        if task is not None and not task.done():
            task.cancel()

    can_answer = False
    """Whether the agent can ask a person (and so be answered); only OpenCode's server can."""

    def follow_up_refusal(self, lane: int) -> str | None:
        """Why `follow_up` cannot reach the agent of `lane` now; None when it can."""
        return (f"the {type(self).__name__} agent runs one prompt and exits: a follow-up needs an "
                "agent that keeps its session (OpenCode in server mode)")

    async def follow_up(self, lane: int, text: str) -> None:
        """Send the running agent of `lane` another message; OrchError when it cannot take one."""
        raise OrchError(f"lane {lane}: {self.follow_up_refusal(lane)}")

    async def transcript(self, lane: int) -> tuple[TranscriptEntry, ...]:
        """What the agent of `lane` (running or last run) said and did."""
        log = self._logs.get(lane)
        return from_output_lines(log.tail()) if log is not None else ()

    async def answer(self, lane: int, request_id: str, answer: InputAnswer, by: str = "a person") -> None:
        """Answer what the agent in `lane` asked; OrchError when it cannot be answered."""
        raise OrchError(f"lane {lane}: the {type(self).__name__} agent never asks, so there is "
                        "nothing to answer")

    async def run(self, request: AgentRequest, sink: EventSink) -> AgentResult:
        current = asyncio.current_task()
        assert current is not None, "run() must be awaited inside an asyncio task"
        self._running[request.lane] = current
        log = LaneLog()
        self._logs[request.lane] = log
        sink(LaneProgress(request.lane, request.task.id, "starting"))
        over_budget: list[str] = []
        budget = Budget(request.max_tokens, request.max_cost)
        last_sign = LastSignOfLife()

        def watched(event: Event) -> None:
            sink(event)
            last_sign.saw(event)
            if isinstance(event, LaneProgress) and not over_budget:
                why = budget.exceeded(event.tokens or 0, event.cost or 0.0)
                if why:  # stopped like an abort: the agent ends, its work is committed
                    over_budget.append(why)
                    current.cancel()

        try:
            async with asyncio.timeout(request.timeout):
                outcome, reason = await self._execute(request, watched, log)
        except TimeoutError:
            outcome = LaneOutcome.TIMED_OUT
            reason = f"no result within {request.timeout:g} s; the agent was stopped{last_sign.describe(request.timeout)}"
        except asyncio.CancelledError:
            current.uncancel()
            outcome, reason = LaneOutcome.ABORTED, over_budget[0] if over_budget else "aborted; the agent was stopped"
        finally:
            self._running.pop(request.lane, None)
        log.add(f"[orch] {outcome.value}: {reason}")
        files = (await asyncio.to_thread(changed_files, request.worktree, request.base_commit)
                 if request.report_files else ())
        sink(LaneProgress(request.lane, request.task.id, outcome.value, action=reason))
        return AgentResult(outcome, reason, log.tail(), files)

    async def _execute(self, request: AgentRequest, sink: EventSink,
                       log: LaneLog) -> tuple[LaneOutcome, str]:
        raise NotImplementedError
