"""Coder agent runners: one interface, three runners (OpenCode, command template, scripted).

    runner = make_runner(config)          # or ScriptedRunner(), CommandRunner(argv), ...
    await runner.start()
    result = await runner.run(AgentRequest(...), sink)   # AgentResult
    await runner.close()
"""

from orch_tui.orchestration.agents.base import AgentRequest, AgentResult, LaneLog, RunnerBase, build_prompt, changed_files
from orch_tui.orchestration.agents.command import CommandRunner
from orch_tui.orchestration.agents.factory import make_runner
from orch_tui.orchestration.agents.opencode_run import OpenCodeRunRunner
from orch_tui.orchestration.agents.opencode_server import OpenCodeServerRunner
from orch_tui.orchestration.agents.scripted import ScriptedRunner

AgentRunner = RunnerBase

__all__ = [
    "AgentRequest", "AgentResult", "AgentRunner", "CommandRunner", "LaneLog", "OpenCodeRunRunner",
    "OpenCodeServerRunner", "RunnerBase", "ScriptedRunner", "build_prompt", "changed_files", "make_runner",
]
