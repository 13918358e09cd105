"""Coder agent runners: one interface, three runners (OpenCode, command template, scripted).

    runner = make_runner(config)          # or ScriptedRunner(), CommandRunner(argv), ...
    await runner.start()
    result = await runner.run(AgentRequest(...), sink)   # AgentResult
    await runner.close()
"""

from .base import AgentRequest, AgentResult, LaneLog, RunnerBase, build_prompt, changed_files
from .command import CommandRunner
from .factory import make_runner
from .opencode_run import OpenCodeRunRunner
from .opencode_server import OpenCodeServerRunner
from .scripted import ScriptedRunner

AgentRunner = RunnerBase

__all__ = [
    "AgentRequest", "AgentResult", "AgentRunner", "CommandRunner", "LaneLog", "OpenCodeRunRunner",
    "OpenCodeServerRunner", "RunnerBase", "ScriptedRunner", "build_prompt", "changed_files", "make_runner",
]
