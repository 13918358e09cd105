"""The real `opencode` binary through the whole engine, the way a person runs it.

`orch-tui run --yes --agent opencode` as a subprocess on a fresh machine: a HOME with no git
identity and no global or system git config, the model a scripted server of our own. Three
tasks: two write their files and merge, the third's edit fails and its task is reopened.
Once without Agent Mail (sequential lanes), once with the real server (parallel lanes). And
the dashboard taking an OpenCode lane from the approval key to merged.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from orch_tui.orchestration.infra.git_exec import ORCH_NAME
from tests.support.agent_mail_server import free_port, running_agent_mail
from tests.support.fake_model_server import FakeModelServer
from tests.support.helpers import agent_mail_python, git, opencode_binary
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses
from tests.e2e.test_opencode_e2e import isolated_env

pytestmark = [pytest.mark.slow, pytest.mark.opencode]

RUN_DEADLINE = 120.0
"""The issue's bound: the whole run, three real agents and their merges, within 2 minutes."""
_STAMP = re.compile(r"^\[\s*[\d.]+s\] ")


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


def fresh_machine_env(home: Path, model: FakeModelServer) -> dict[str, str]:
    """os.environ without any git identity or git config, plus an isolated OpenCode HOME."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_")) and name != "EMAIL"}
    env.update(isolated_env(home, model.opencode_config()))
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "NO_COLOR": "1"})
    return env


def three_task_repo(root: Path, model: FakeModelServer) -> Path:
    """t-1 and t-2 write their files; t-3's edit fails (its text is not in the file).

    Priorities put t-1 in lane 1, t-2 in lane 2, t-3 in lane 3; the model is scripted per
    lane worktree, which sits in `root/lanes`."""
    tasks = [TaskSpec("t-1", ("src/one.py",), priority=1), TaskSpec("t-2", ("src/two.py",), priority=2),
             TaskSpec("t-3", ("src/app.py",), priority=3)]
    lanes = root / "lanes"
    repo = make_task_repo(root / "repo", tasks, files={
        "src/app.py": "GREETING = 'hi'\n",
        ".orch-tui.toml": (f'agent = "opencode"\nopencode_binary = "{opencode_binary()}"\n'
                           f'opencode_model = "fake/scripted"\nworktree_dir = "{lanes}"\n'
                           "agent_timeout_seconds = 90\n")})
    lanes = Path(os.path.realpath(lanes))
    one, two, three = (lanes / f"lane-{n}" for n in (1, 2, 3))
    model.script(str(one), [model.tool("write", filePath=f"{one}/src/one.py", content="ONE = 1\n"),
                            model.text("Wrote src/one.py.")])
    model.script(str(two), [model.tool("write", filePath=f"{two}/src/two.py", content="TWO = 2\n"),
                            model.text("Wrote src/two.py.")])
    model.script(str(three), [model.tool("edit", filePath=f"{three}/src/app.py",
                                         oldString="NOT IN THE FILE", newString="x"),
                              model.text("I could not do it.")])
    return repo


def run_cli(repo: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orch_tui.app.cli", "run", "--yes", "--repo", str(repo), *extra],
                          env=env, capture_output=True, text=True, timeout=RUN_DEADLINE)


def assert_two_merged_and_one_reopened(repo: Path, result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "closed", "t-3": "open"}
    assert git(repo, "show", "main:src/one.py") == "ONE = 1" and git(repo, "show", "main:src/two.py") == "TWO = 2"
    assert git(repo, "show", "main:src/app.py") == "GREETING = 'hi'"
    notes = next(json.loads(line) for line in (repo / ".beads/issues.jsonl").read_text().splitlines()
                 if json.loads(line)["id"] == "t-3").get("notes", "")
    assert "lane 3 failed" in notes and "edit src/app.py failed" in notes
    # orch-tui's own commits needed no identity from the person's machine.
    assert ORCH_NAME in git(repo, "log", "--format=%an", "main").splitlines()
    assert not git(repo, "status", "--porcelain", "--", ".", ":!.beads")
    lines = [_STAMP.sub("", line) for line in result.stdout.splitlines()]
    repeated = {line for line in lines if lines.count(line) > 1}
    assert not repeated, f"lines said more than once: {repeated}"
    assert "lane 3: t-3 failed" in result.stdout


def test_run_with_opencode_on_a_fresh_machine_without_agent_mail(tmp_path: Path, model: FakeModelServer) -> None:
    repo = three_task_repo(tmp_path, model)
    env = fresh_machine_env(tmp_path / "home", model)
    result = run_cli(repo, env, "--agent-mail", f"http://127.0.0.1:{free_port()}/mcp/")
    assert_two_merged_and_one_reopened(repo, result)
    assert "mode: local" in result.stdout  # no Agent Mail: parallel lanes on the local ledger


@pytest.mark.agent_mail
def test_run_with_opencode_on_a_fresh_machine_with_agent_mail(tmp_path: Path, model: FakeModelServer) -> None:
    agent_mail_python()
    repo = three_task_repo(tmp_path, model)
    env = fresh_machine_env(tmp_path / "home", model)
    with running_agent_mail(tmp_path / "mail") as server:
        result = run_cli(repo, env, "--agent-mail", server.url)
    assert_two_merged_and_one_reopened(repo, result)
    assert "mode: parallel" in result.stdout


async def test_the_dashboard_takes_an_opencode_lane_from_approval_to_merged(
        tmp_path: Path, model: FakeModelServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from orch_tui.app.app import OrchApp
    from orch_tui.app.screens.approval import ApprovalScreen
    from orch_tui.orchestration.commands import EngineState
    from orch_tui.orchestration.engine.wiring import build_engine, effective_config
    from orch_tui.widgets.merge_queue import MergeQueueTable
    from tests.ui.ui_helpers import screen_text, wait_for

    env = fresh_machine_env(tmp_path / "home", model)
    repo = three_task_repo(tmp_path, model)  # made by a person who has an identity
    for name in [name for name in os.environ if name.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))]:
        monkeypatch.delenv(name)  # the product's own git calls run in this process: a fresh machine
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    config = effective_config(repo, agent_mail_url=f"http://127.0.0.1:{free_port()}/mcp/", batch_size=2)
    engine = build_engine(repo, config, runner_env=env)
    app = OrchApp(engine, manage_engine=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: "local reservations" in screen_text(app).splitlines()[0], "the engine", 60)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval gate", 60)
        assert [choice.task_id for choice in app.screen.proposal.picked] == ["t-1", "t-2"]
        await pilot.press("a")
        await wait_for(pilot, lambda: engine.state is EngineState.IDLE
                       and {m.task_id: m.state for m in app.screen.query_one(MergeQueueTable).merges}
                       == {"t-1": "merged", "t-2": "merged"}, "both OpenCode lanes merged", RUN_DEADLINE)
        assert "write src/one.py" in screen_text(app) or "succeeded" in screen_text(app)
        await pilot.press("q")
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "closed", "t-3": "open"}
    assert git(repo, "show", "main:src/two.py") == "TWO = 2"
