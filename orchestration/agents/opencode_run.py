"""OpenCode fallback mode: one `opencode run --format json` process per lane.

Costlier than the shared server (each process peaks above 500 MB) but needs no port. The
prompt goes in on stdin (passed verbatim; an argv word would reach the model quoted). Each
output line is a JSON object `{"type", "timestamp", "sessionID", ...}` with types
`step_start`, `step_finish`, `text`, `tool_use` and `error`; `part` carries the same
objects the server streams, so the same OpenCodeVerdict judges both modes. The exit status
is logged but not trusted: failed edits and rejected permissions still exit 0.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Mapping

from orch_tui.orchestration.events import EventSink, LaneOutcome
from orch_tui.orchestration.agents.base import AgentRequest, LaneLog, RunnerBase, build_prompt, changed_files
from orch_tui.orchestration.agents.opencode_events import OpenCodeVerdict
from orch_tui.orchestration.agents.opencode_serve import OPENCODE_ENV_DEFAULTS
from orch_tui.orchestration.infra.process_group import GroupProcess, child_env
from orch_tui.orchestration.states import LaneState
from orch_tui.orchestration.infra.json_shapes import member_dict


class OpenCodeRunRunner(RunnerBase):
    def __init__(self, binary: str = "opencode", model: str | None = None,
                 env: Mapping[str, str] | None = None, agent: str | None = None) -> None:
        super().__init__()
        self.binary = binary
        self.model = model
        self.env = dict(env or {})
        self.agent = agent
        self.pgids: dict[int, int] = {}
        """Process group of each lane's latest child (tests check that none survives)."""

    def argv(self, request: AgentRequest) -> list[str]:
        words = [self.binary, "run", "--format", "json", "--dir", str(request.worktree),
                 "--title", f"{request.task.id}: {request.task.title}"[:120]]
        if self.model:
            words += ["-m", self.model]
        if self.agent:
            words += ["--agent", self.agent]
        return words

    async def _execute(self, request: AgentRequest, sink: EventSink,
                       log: LaneLog) -> tuple[LaneOutcome, str]:
        env = child_env(request.worktree, {**OPENCODE_ENV_DEFAULTS, **self.env, **request.env})
        try:
            child = await GroupProcess.spawn(self.argv(request), request.worktree, env,
                                             stdin_data=build_prompt(request).encode())
        except OSError as error:
            return LaneOutcome.FAILED, f"cannot start {self.binary}: {error.strerror or error}"
        self.pgids[request.lane] = child.pgid
        verdict = OpenCodeVerdict(request.lane, request.task.id, request.worktree, sink, log)
        verdict.progress(LaneState.BUSY, "opencode run started")
        try:
            async for line in child.lines():
                self._read_line(line, verdict, log)
            status = await child.wait()
        except asyncio.CancelledError:
            await child.kill()
            raise
        await child.reap_group()
        log.add(f"[orch] opencode run exited with status {status}")
        verdict.progress(LaneState.IDLE)
        files = await asyncio.to_thread(changed_files, request.worktree, request.base_commit)
        outcome, reason = verdict.judge(files)
        if outcome is LaneOutcome.SUCCEEDED and status != 0:
            return LaneOutcome.FAILED, f"opencode run exited with status {status}"
        if outcome is LaneOutcome.FAILED and status != 0 and not verdict.session_error:
            reason += f" (opencode run exited with status {status})"
        return outcome, reason

    @staticmethod
    def _read_line(line: str, verdict: OpenCodeVerdict, log: LaneLog) -> None:
        try:
            event: Any = json.loads(line)
        except json.JSONDecodeError:
            log.add(line)
            return
        if not isinstance(event, dict):
            log.add(line)
            return
        kind = event.get("type")
        part = member_dict(event, "part")
        if kind in ("tool_use", "step_start", "step_finish"):
            verdict.on_part(part)
        elif kind == "text":
            text = str(part.get("text", "")).strip()
            if text:
                log.add(f"text: {text}")
        elif kind == "error":
            verdict.on_error(event.get("error"))
        else:
            log.add(line)
