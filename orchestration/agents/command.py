"""Any CLI coder agent (`claude -p`, `aider`, a script) run from an argv template.

The template is the `agent_command` list from the config, e.g.

    agent_command = ["claude", "-p", "--permission-mode", "acceptEdits", "@{prompt_file}"]
    agent_command = ["aider", "--yes", "--message-file", "{prompt_file}"]

Placeholders `{worktree}`, `{task_id}` and `{prompt_file}` are replaced inside each word;
nothing else is interpreted and no shell is involved, so task text can never become a
command. The prompt (see `build_prompt`) is written to a file outside the worktree (it must
not show up in the lane's diff). The child runs in the worktree with PWD set, in its own
process group; exit status 0 counts as success, anything else as failure.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.events import EventSink, LaneOutcome, LaneProgress
from orch_tui.orchestration.agents.base import AgentRequest, LaneLog, RunnerBase, build_prompt, task_slug
from orch_tui.orchestration.infra.process_group import GroupProcess, child_env
from orch_tui.orchestration.states import LaneState

PLACEHOLDERS = ("{worktree}", "{task_id}", "{prompt_file}")
PROGRESS_INTERVAL = 0.25
"""Seconds between progress events (a chatty agent must not flood the UI)."""


def fill_template(template: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Each word with the known placeholders replaced literally (no format-string parsing)."""
    argv = []
    for word in template:
        for placeholder in PLACEHOLDERS:
            word = word.replace(placeholder, values[placeholder])
        argv.append(word)
    return argv


class CommandRunner(RunnerBase):
    def __init__(self, template: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        super().__init__()
        if not template or not all(isinstance(word, str) and word for word in template):
            raise BadInput("agent = \"command\" needs agent_command, a non-empty argv list",
                           fix='set agent_command, e.g. ["aider", "--yes", "--message-file", "{prompt_file}"]')
        self.template = tuple(template)
        self.env = dict(env or {})
        self._prompt_dir: Path | None = None

    def _prompt_file(self, request: AgentRequest) -> Path:
        if self._prompt_dir is None or not self._prompt_dir.is_dir():
            self._prompt_dir = Path(tempfile.mkdtemp(prefix="orch-tui-prompts-"))
        path = self._prompt_dir / f"lane-{request.lane}-{task_slug(request.task.id)}.md"
        path.write_text(build_prompt(request), encoding="utf-8")
        return path

    async def close(self) -> None:
        await super().close()
        if self._prompt_dir is not None:
            shutil.rmtree(self._prompt_dir, ignore_errors=True)
            self._prompt_dir = None

    async def _execute(self, request: AgentRequest, sink: EventSink,
                       log: LaneLog) -> tuple[LaneOutcome, str]:
        prompt_file = self._prompt_file(request)
        argv = fill_template(self.template, {
            "{worktree}": str(request.worktree), "{task_id}": request.task.id,
            "{prompt_file}": str(prompt_file)})
        try:
            env = child_env(request.worktree, {**self.env, **request.env})
            child = await GroupProcess.spawn(argv, request.worktree, env)
        except OSError as error:
            return LaneOutcome.FAILED, f"cannot start {argv[0]}: {error.strerror or error}"
        lane, task_id = request.lane, request.task.id
        sink(LaneProgress(lane, task_id, LaneState.BUSY, action=f"started {Path(argv[0]).name}"))
        try:
            last_event = 0.0
            async for line in child.lines():
                log.add(line)
                now = time.monotonic()
                if line.strip() and now - last_event >= PROGRESS_INTERVAL:
                    last_event = now
                    sink(LaneProgress(lane, task_id, LaneState.BUSY, action=line.strip()[:200]))
            status = await child.wait()
        except asyncio.CancelledError:
            await child.kill()
            raise
        finally:
            prompt_file.unlink(missing_ok=True)
        await child.reap_group()
        if status == 0:
            return LaneOutcome.SUCCEEDED, "agent command exited with status 0"
        last = next((line for line in reversed(log.tail()) if line.strip()), "")
        return LaneOutcome.FAILED, f"agent command exited with status {status}" + (f": {last}" if last else "")
