"""The scripted agent: deterministic edits with delays, in-process (asyncio, no subprocess).

The demo and most tests use it; it behaves like a coder agent as the engine sees it (it edits
files in its worktree over time, may fail, hang or stray outside its reservation) without a
model. Its edits never contain timestamps, so a rerun produces the same bytes.

A task scripts it with `task.metadata["orch_script"]`, a dict (every key optional):

    {
      "steps": [                                   # done in order
        {"write": "src/a.py", "content": "x = 1\\n", "delay": 0.5},   # create or replace
        {"append": "docs/a.md", "content": "more\\n"},                # append (creates)
        {"delete": "old.txt"}                                          # remove a file
      ],
      "seconds": 2.0,          # total duration when steps give no "delay" (default 1.0)
      "outside": ["shared/config.py"],   # also append a line to these (outside the reservation)
      "fail": "tests do not pass",       # after the steps, finish FAILED with this reason
      "hang": true                       # after the steps, never finish (timeout/abort ends it)
    }

`delay` is the pause before a step; steps without one share `seconds` equally. `content`
defaults to a line naming the task. Paths are relative to the worktree; an absolute path or
one leaving the worktree (`..`) fails the task without touching anything.

Without a script the agent derives one from the task's declared files (`Files:` line, or
the lane's reserved patterns): it appends a line naming the task to each literal file
pattern (`docs/api.md`) and creates one file under the first directory or wildcard pattern
(`src/api/**` -> `src/api/<task-id>.txt`, `pkg/*.py` -> `pkg/<task-id>.py`).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from orch_tui.orchestration.events import EventSink, LaneOutcome, LaneProgress
from orch_tui.orchestration.infra.patterns import path_matches, split_pattern
from orch_tui.orchestration.agents.base import AgentRequest, LaneLog, RunnerBase, task_slug
from orch_tui.orchestration.states import LaneState

DEFAULT_SECONDS = 1.0
SCRIPT_KEY = "orch_script"
_WILDCARD = re.compile(r"[*?\[]")


class ScriptError(ValueError):
    """The task's script is malformed or points outside the worktree."""


@dataclass(frozen=True)
class Step:
    action: str  # write | append | delete
    path: str
    content: str
    delay: float | None


@dataclass(frozen=True)
class Script:
    steps: tuple[Step, ...]
    seconds: float = DEFAULT_SECONDS
    fail: str | None = None
    hang: bool = False

    def delays(self) -> list[float]:
        unset = [step for step in self.steps if step.delay is None]
        share = self.seconds / len(unset) if unset else 0.0
        return [share if step.delay is None else step.delay for step in self.steps]


def _task_line(request: AgentRequest) -> str:
    return f"{request.task.id}: {request.task.title}\n"


def _safe_relative(path: Any) -> str:
    if not isinstance(path, str) or not path.strip():
        raise ScriptError(f"step path must be a non-empty string, got {path!r}")
    pure = PurePosixPath(path.strip())
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ScriptError(f"path {path!r} leaves the worktree")
    return pure.as_posix()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ScriptError(f"{what} must be a number >= 0, got {value!r}")
    return float(value)


def _parse_step(raw: Any, default_content: str) -> Step:
    if not isinstance(raw, dict):
        raise ScriptError(f"a step must be a dict, got {raw!r}")
    actions = [name for name in ("write", "append", "delete") if name in raw]
    if len(actions) != 1:
        raise ScriptError(f"a step needs exactly one of write, append, delete: {raw!r}")
    action = actions[0]
    content = raw.get("content", default_content)
    if not isinstance(content, str):
        raise ScriptError(f"content must be a string: {raw!r}")
    delay = _number(raw["delay"], "delay") if "delay" in raw else None
    return Step(action, _safe_relative(raw[action]), content, delay)


def parse_script(spec: dict[str, Any], request: AgentRequest) -> Script:
    """The Script a task's `orch_script` dict describes (ScriptError when malformed)."""
    line = _task_line(request)
    raw_steps = spec.get("steps", [])
    if not isinstance(raw_steps, list):
        raise ScriptError("steps must be a list")
    steps = [_parse_step(raw, line) for raw in raw_steps]
    outside = spec.get("outside", [])
    if not isinstance(outside, list):
        raise ScriptError("outside must be a list of paths")
    steps += [Step("append", _safe_relative(path), line, None) for path in outside]
    fail = spec.get("fail")
    if fail is not None and not isinstance(fail, str):
        raise ScriptError("fail must be a string (the reason)")
    seconds = _number(spec.get("seconds", DEFAULT_SECONDS), "seconds")
    return Script(tuple(steps), seconds, fail or None, bool(spec.get("hang", False)))


def _file_under(pattern: str, slug: str) -> str | None:
    """A new file matching a directory or wildcard pattern, or None for a literal file."""
    segments = split_pattern(pattern)
    if not segments:
        return None
    literal = [s for s in segments if not _WILDCARD.search(s)]
    if len(literal) == len(segments):
        if "." in segments[-1]:
            return None  # a literal file, appended to instead
        candidate = "/".join(segments + (f"{slug}.txt",))
    else:
        first_wild = next(i for i, s in enumerate(segments) if _WILDCARD.search(s))
        prefix = segments[:first_wild]
        last = segments[-1]
        suffix = last[last.rfind("."):] if "." in last and last.startswith("*") else ".txt"
        candidate = "/".join(prefix + (f"{slug}{suffix}",))
    return candidate if path_matches(candidate, pattern) else None


def default_script(request: AgentRequest) -> Script:
    """Edits derived from the task's declared files (see the module docstring)."""
    line = _task_line(request)
    slug = task_slug(request.task.id)
    patterns = request.task.declared_files or request.reserved
    steps: list[Step] = []
    created = False
    for pattern in patterns:
        segments = split_pattern(pattern)
        if not segments:
            continue
        new_file = _file_under(pattern, slug)
        if new_file is None and not any(_WILDCARD.search(s) for s in segments):
            steps.append(Step("append", _safe_relative("/".join(segments)), line, None))
        elif new_file is not None and not created:
            steps.append(Step("write", _safe_relative(new_file), line, None))
            created = True
    if not steps:
        steps.append(Step("write", f"notes/{slug}.md", line, None))
    return Script(tuple(steps))


def script_for(request: AgentRequest) -> Script:
    metadata = request.task.metadata
    spec = metadata.get(SCRIPT_KEY) if isinstance(metadata, dict) else None
    if spec is None:
        return default_script(request)  # ScriptError when a Files: pattern leaves the worktree
    if not isinstance(spec, dict):
        raise ScriptError(f"metadata {SCRIPT_KEY} must be a dict")
    return parse_script(spec, request)


def _apply(worktree: Path, step: Step) -> None:
    target = worktree / step.path
    if step.action == "delete":
        target.unlink(missing_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = "a" if step.action == "append" else "w"
    with target.open(mode, encoding="utf-8", newline="") as handle:
        handle.write(step.content)


class ScriptedRunner(RunnerBase):
    """Runs the task's script in-process; see the module docstring for the format."""

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__()
        self.speed = speed
        """Multiplier on every delay (0 makes scripts instant, handy in tests)."""

    async def _execute(self, request: AgentRequest, sink: EventSink,
                       log: LaneLog) -> tuple[LaneOutcome, str]:
        try:
            script = script_for(request)
        except ScriptError as error:
            log.add(f"bad script: {error}")
            return LaneOutcome.FAILED, f"bad orch_script: {error}"
        lane, task_id = request.lane, request.task.id
        sink(LaneProgress(lane, task_id, LaneState.BUSY, action=f"{len(script.steps)} scripted edits"))
        for step, delay in zip(script.steps, script.delays()):
            await asyncio.sleep(delay * self.speed)
            await asyncio.to_thread(_apply, request.worktree, step)
            log.add(f"{step.action} {step.path}")
            sink(LaneProgress(lane, task_id, LaneState.BUSY, action=f"{step.action} {step.path}"))
        if script.hang:
            log.add("hanging (scripted)")
            sink(LaneProgress(lane, task_id, LaneState.BUSY, action="hanging (scripted)"))
            await asyncio.Event().wait()
        sink(LaneProgress(lane, task_id, LaneState.IDLE))
        if script.fail:
            return LaneOutcome.FAILED, script.fail
        return LaneOutcome.SUCCEEDED, f"{len(script.steps)} scripted edits"
