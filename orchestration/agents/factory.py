"""Picking the runner the config (or the command line) asks for."""

from __future__ import annotations

from typing import Mapping

from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.agents.base import RunnerBase
from orch_tui.orchestration.agents.command import CommandRunner
from orch_tui.orchestration.agents.opencode_run import OpenCodeRunRunner
from orch_tui.orchestration.agents.opencode_server import OpenCodeServerRunner
from orch_tui.orchestration.agents.scripted import ScriptedRunner

OPENCODE_MODES = ("serve", "run")


def make_runner(config: Config, *, agent: str | None = None, opencode_mode: str = "serve",
                env: Mapping[str, str] | None = None) -> RunnerBase:
    """The runner for `agent` (default: `config.agent`).

    `opencode_mode` picks one shared `opencode serve` (default) or one `opencode run` per
    lane; `env` is added to every child's environment (tests isolate HOME with it).
    """
    kind = agent or config.agent
    if kind == "scripted":
        return ScriptedRunner()
    if kind == "command":
        return CommandRunner(config.agent_command, env=env)
    if kind == "opencode":
        if opencode_mode == "serve":
            return OpenCodeServerRunner(config.opencode_binary, config.opencode_model, env=env)
        if opencode_mode == "run":
            return OpenCodeRunRunner(config.opencode_binary, config.opencode_model, env=env)
        raise BadInput(f"unknown OpenCode mode {opencode_mode!r}", fix=f"use one of {', '.join(OPENCODE_MODES)}")
    raise BadInput(f"unknown agent {kind!r}", fix="use one of opencode, scripted, command")
