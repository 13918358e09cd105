"""The scripted and command-template runners, on real git worktrees."""

from __future__ import annotations

from dataclasses import replace

import asyncio
import sys
from pathlib import Path

import pytest

from orch_tui.orchestration.agents import (
    AgentRequest, CommandRunner, OpenCodeRunRunner, OpenCodeServerRunner, ScriptedRunner,
    build_prompt, make_runner)
from orch_tui.orchestration.infra.process_group import wait_group_gone
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.events import Event, LaneOutcome, LaneProgress
from orch_tui.orchestration.model import Task
from tests.support.helpers import git, make_repo


def worktree_of(repo: Path, name: str) -> tuple[Path, str]:
    """A real lane worktree of `repo` on a fresh branch, and its base commit."""
    path = repo.parent / name
    git(repo, "worktree", "add", "-q", "-b", f"orch/{name}", str(path))
    return path, git(repo, "rev-parse", "HEAD")


def request_for(worktree: Path, base: str, task: Task, *, lane: int = 1, timeout: float = 30.0) -> AgentRequest:
    return AgentRequest(lane=lane, task=task, worktree=worktree, base_commit=base,
                        reserved=task.declared_files, timeout=timeout)


@pytest.fixture
def lane(tmp_path: Path) -> tuple[Path, str]:
    repo = make_repo(tmp_path / "repo", {"docs/api.md": "# API\n", "src/api/__init__.py": ""})
    return worktree_of(repo, "lane-1")


class Events(list[Event]):
    def progress(self) -> list[LaneProgress]:
        return [event for event in self if isinstance(event, LaneProgress)]


# -- scripted -------------------------------------------------------------------------------

async def test_scripted_default_edits_follow_the_declared_files(lane: tuple[Path, str]) -> None:
    worktree, base = lane
    task = Task("bd-7", "Document the API", description="Files: docs/api.md, src/api/**")
    events = Events()
    result = await ScriptedRunner(speed=0).run(request_for(worktree, base, task), events.append)

    assert result.outcome is LaneOutcome.SUCCEEDED
    assert (worktree / "docs/api.md").read_text() == "# API\nbd-7: Document the API\n"
    assert (worktree / "src/api/bd-7.txt").read_text() == "bd-7: Document the API\n"
    assert result.files_changed == ("docs/api.md", "src/api/bd-7.txt")
    assert any("append docs/api.md" in event.action for event in events.progress())
    assert events.progress()[-1].status == "succeeded"


async def test_scripted_steps_run_in_order_and_a_scripted_failure_is_reported(lane: tuple[Path, str]) -> None:
    worktree, base = lane
    script = {"steps": [{"write": "src/api/new.py", "content": "x = 1\n"},
                        {"append": "src/api/new.py", "content": "y = 2\n"},
                        {"delete": "docs/api.md"}],
              "fail": "tests do not pass", "seconds": 0.05}
    task = Task("bd-8", "Scripted", description="Files: src/api/**", metadata={"orch_script": script})
    result = await ScriptedRunner().run(request_for(worktree, base, task), lambda event: None)

    assert result.outcome is LaneOutcome.FAILED
    assert result.reason == "tests do not pass"
    assert (worktree / "src/api/new.py").read_text() == "x = 1\ny = 2\n"
    assert not (worktree / "docs/api.md").exists()
    assert set(result.files_changed) == {"docs/api.md", "src/api/new.py"}


async def test_scripted_edits_are_identical_on_every_run(tmp_path: Path) -> None:
    script = {"steps": [{"write": "a.txt"}], "outside": ["shared/config.py"], "seconds": 0}
    task = Task("bd-9", "Same bytes", description="Files: a.txt", metadata={"orch_script": script})
    contents = []
    for name in ("one", "two"):
        repo = make_repo(tmp_path / name)
        base = git(repo, "rev-parse", "HEAD")
        await ScriptedRunner().run(request_for(repo, base, task), lambda event: None)
        contents.append(((repo / "a.txt").read_bytes(), (repo / "shared/config.py").read_bytes()))
    assert contents[0] == contents[1] == (b"bd-9: Same bytes\n", b"bd-9: Same bytes\n")


async def test_scripted_script_cannot_leave_the_worktree(lane: tuple[Path, str]) -> None:
    worktree, base = lane
    task = Task("bd-10", "Escape", metadata={"orch_script": {"steps": [{"write": "../escaped.txt"}]}})
    result = await ScriptedRunner(speed=0).run(request_for(worktree, base, task), lambda event: None)
    assert result.outcome is LaneOutcome.FAILED
    assert "leaves the worktree" in result.reason
    assert not (worktree.parent / "escaped.txt").exists()


async def test_scripted_hang_ends_in_a_timeout(lane: tuple[Path, str]) -> None:
    worktree, base = lane
    task = Task("bd-11", "Hangs", metadata={"orch_script": {"steps": [{"write": "a.txt"}], "hang": True, "seconds": 0}})
    result = await ScriptedRunner().run(request_for(worktree, base, task, timeout=0.3), lambda event: None)
    assert result.outcome is LaneOutcome.TIMED_OUT
    assert result.files_changed == ("a.txt",)


async def test_scripted_abort_by_call_and_by_cancelling_the_task(tmp_path: Path) -> None:
    runner = ScriptedRunner()
    hang = {"orch_script": {"hang": True, "seconds": 0}}
    results = []
    for lane_number, how in ((1, "abort"), (2, "cancel")):
        repo = make_repo(tmp_path / how)
        request = request_for(repo, git(repo, "rev-parse", "HEAD"), Task(f"bd-{how}", how, metadata=hang),
                              lane=lane_number)
        started = asyncio.Event()

        def sink(event: Event) -> None:
            if isinstance(event, LaneProgress) and "hanging" in event.action:
                started.set()  # noqa: B023 - used within this iteration only

        running = asyncio.create_task(runner.run(request, sink))
        await asyncio.wait_for(started.wait(), 10)
        if how == "abort":
            await runner.abort(lane_number)
        else:
            running.cancel()
        results.append(await running)
    assert [result.outcome for result in results] == [LaneOutcome.ABORTED, LaneOutcome.ABORTED]


# -- command template -----------------------------------------------------------------------

AGENT_SCRIPT = r"""
import os, pathlib, sys
worktree, task_id, prompt_file = sys.argv[1:4]
prompt = pathlib.Path(prompt_file).read_text()
pathlib.Path("agent-saw.txt").write_text(
    f"cwd={os.getcwd()}\npwd={os.environ['PWD']}\ntask={task_id}\nworktree={worktree}\n")
pathlib.Path("prompt-copy.md").write_text(prompt)
print("agent finished", flush=True)
sys.exit(int(os.environ.get("AGENT_EXIT", "0")))
"""


def command_template(tmp_path: Path, body: str = AGENT_SCRIPT) -> list[str]:
    script = tmp_path / "agent.py"
    script.write_text(body)
    return [sys.executable, str(script), "{worktree}", "{task_id}", "{prompt_file}"]


async def test_command_runner_fills_the_template_and_runs_in_the_worktree(
        tmp_path: Path, lane: tuple[Path, str]) -> None:
    worktree, base = lane
    task = Task("bd-12", "Title with $(touch pwned) and `rm -rf x`; echo hi",
                description="Add the endpoint.\nFiles: src/api/**", acceptance_criteria="It answers 200.")
    runner = CommandRunner(command_template(tmp_path))
    result = await runner.run(request_for(worktree, base, task), lambda event: None)
    await runner.close()

    assert result.outcome is LaneOutcome.SUCCEEDED
    saw = (worktree / "agent-saw.txt").read_text()
    assert f"cwd={worktree}\npwd={worktree}\ntask=bd-12\nworktree={worktree}\n" == saw
    prompt = (worktree / "prompt-copy.md").read_text()
    assert "bd-12" in prompt and "Add the endpoint." in prompt and "It answers 200." in prompt
    assert "- src/api/**" in prompt and str(worktree) in prompt and "commit" in prompt
    assert not list(tmp_path.rglob("pwned"))
    assert "agent finished" in result.log_tail
    assert "agent-saw.txt" in result.files_changed


async def test_command_runner_reports_a_failing_exit_with_its_last_line(
        tmp_path: Path, lane: tuple[Path, str]) -> None:
    worktree, base = lane
    runner = CommandRunner(command_template(tmp_path), env={"AGENT_EXIT": "3"})
    result = await runner.run(request_for(worktree, base, Task("bd-13", "Fails")), lambda event: None)
    assert result.outcome is LaneOutcome.FAILED
    assert "status 3" in result.reason and "agent finished" in result.reason


HANGING_AGENT = r"""
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(f"pgid={os.getpgid(0)} child={child.pid}", flush=True)
time.sleep(600)
"""


def _pgid_from(log: list[str]) -> int:
    line = next(line for line in log if line.startswith("pgid="))
    return int(line.split()[0].removeprefix("pgid="))


async def test_command_timeout_kills_the_whole_process_group(tmp_path: Path, lane: tuple[Path, str]) -> None:
    worktree, base = lane
    runner = CommandRunner(command_template(tmp_path, HANGING_AGENT))
    result = await runner.run(request_for(worktree, base, Task("bd-14", "Hangs"), timeout=2.0),
                              lambda event: None)
    assert result.outcome is LaneOutcome.TIMED_OUT
    assert await wait_group_gone(_pgid_from(result.log_tail), 30)


async def test_command_abort_mid_task_kills_the_group(tmp_path: Path, lane: tuple[Path, str]) -> None:
    worktree, base = lane
    runner = CommandRunner(command_template(tmp_path, HANGING_AGENT))
    started = asyncio.Event()
    running = asyncio.create_task(runner.run(
        request_for(worktree, base, Task("bd-15", "Hangs")),
        lambda event: started.set() if isinstance(event, LaneProgress) and "pgid=" in event.action else None))
    await asyncio.wait_for(started.wait(), 30)
    running.cancel()
    result = await running
    assert result.outcome is LaneOutcome.ABORTED
    assert await wait_group_gone(_pgid_from(result.log_tail), 30)


async def test_command_that_cannot_start_fails_with_a_reason(lane: tuple[Path, str]) -> None:
    worktree, base = lane
    runner = CommandRunner(["/nonexistent/agent-binary", "{prompt_file}"])
    result = await runner.run(request_for(worktree, base, Task("bd-16", "x")), lambda event: None)
    assert result.outcome is LaneOutcome.FAILED
    assert "cannot start /nonexistent/agent-binary" in result.reason


# -- prompt and factory ---------------------------------------------------------------------

def test_prompt_names_task_worktree_reservation_and_boundaries(tmp_path: Path) -> None:
    task = Task("bd-20", "Add login", description="Make it work.\nFiles: src/auth/**",
                acceptance_criteria="Users can log in.")
    prompt = build_prompt(request_for(tmp_path, "abc", task))
    for expected in ("bd-20", "Add login", "Make it work.", "Users can log in.", str(tmp_path),
                     "- src/auth/**", "Stay inside your worktree", "Change only files matching",
                     "commit your changes"):
        assert expected in prompt
    assert "Agent Mail" not in prompt  # down: the coder is told no agent name


def test_prompt_names_the_lanes_agent_mail_identity(tmp_path: Path) -> None:
    """The orch-coding skill has the coder reserve extra files under its lane's agent: a
    name of its own would conflict with the lane's reservation."""
    request = replace(request_for(tmp_path, "abc", Task("bd-22", "X", description="Files: a.py")),
                      mail_agent="lane2", mail_project="/work/repo")
    assert "held by agent lane2 in project /work/repo" in build_prompt(request)


def test_factory_picks_the_configured_runner() -> None:
    assert isinstance(make_runner(Config(agent="scripted")), ScriptedRunner)
    assert isinstance(make_runner(Config(agent="command", agent_command=("aider", "{prompt_file}"))), CommandRunner)
    assert isinstance(make_runner(Config(agent="opencode")), OpenCodeServerRunner)
    assert isinstance(make_runner(Config(), opencode_mode="run"), OpenCodeRunRunner)
    with pytest.raises(BadInput, match="agent_command"):
        make_runner(Config(agent="command"))


async def test_closing_a_runner_aborts_its_running_lanes(lane: tuple[Path, str]) -> None:
    worktree, base = lane
    runner = ScriptedRunner()
    task = Task("bd-21", "Hangs", metadata={"orch_script": {"hang": True, "seconds": 0}})
    hanging = asyncio.Event()
    running = asyncio.create_task(runner.run(
        request_for(worktree, base, task),
        lambda event: hanging.set() if isinstance(event, LaneProgress) and "hanging" in event.action else None))
    await asyncio.wait_for(hanging.wait(), 10)
    await runner.close()
    assert (await running).outcome is LaneOutcome.ABORTED
