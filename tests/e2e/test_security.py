"""The promises of SECURITY.md that no other test module holds.

- No code of orch-tui hands a string to a shell (source scan), and task text given to a
  command agent arrives as one argv word or inside the prompt file, never as shell input.
- The Agent Mail token and the OpenCode server password are never printed, logged, put in
  an event or written to any file orch-tui writes (journal, state, tracker, lanes).
- Servers orch-tui starts listen on 127.0.0.1 only.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import PROJECT_ROOT
from tests.support.task_repos import TaskSpec, make_task_repo

SOURCES = [path for folder in ("orchestration", "app", "widgets")
           for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))]
SHELL_CALLS = {"system", "popen", "getoutput", "getstatusoutput", "create_subprocess_shell"}
PROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output", "create_subprocess_exec"}
UNREACHABLE = "http://127.0.0.1:9/mcp/"


def _call_name(node: ast.Call) -> str:
    function = node.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def _of_process_module(node: ast.Call) -> bool:
    function = node.func
    return isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) \
        and function.value.id in ("subprocess", "asyncio")


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, (ast.JoinedStr, ast.BinOp)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str))


def test_no_code_hands_a_string_to_a_shell() -> None:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name, where = _call_name(node), f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
            if name in SHELL_CALLS:
                found.append(f"{where} calls {name}")
            if any(keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant)
                                                   and keyword.value.value is False)
                   for keyword in node.keywords):
                found.append(f"{where} passes shell=")
            if name in PROCESS_CALLS and _of_process_module(node) and node.args and _is_text(node.args[0]):
                found.append(f"{where} runs a command line string")
    assert SOURCES and not found, found


RECORDER = """
import json, pathlib, sys
pathlib.Path(sys.argv[1], "agent-argv.json").write_text(json.dumps(sys.argv[1:]))
pathlib.Path(sys.argv[1], "notes").mkdir(exist_ok=True)
pathlib.Path(sys.argv[1], "notes", "done.md").write_text("done\\n")
"""
HOSTILE_TITLE = "$(touch pwned) `touch pwned`; touch pwned | touch pwned \"'\n\x1b[2J"


@pytest.mark.slow  # a whole `orch-tui run` with a command agent (about 2 s)
def test_task_text_reaches_a_command_agent_as_data_never_as_shell(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("bd-1", ("notes/**",), title=HOSTILE_TITLE)],
                          files={".orch-tui.toml": "agent = \"command\"\nagent_command = " + json.dumps(
                              [sys.executable, "-c", RECORDER, "{worktree}", "{task_id}", "{prompt_file}"]) + "\n"})
    result = subprocess.run([sys.executable, "-m", "orch_tui.app", "run", "--repo", str(repo), "--yes",
                             "--agent-mail", UNREACHABLE], capture_output=True, text=True, cwd=tmp_path,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(tmp_path.rglob("pwned")), "task text ran as a shell command"
    recorded = next(tmp_path.rglob("agent-argv.json"))
    worktree, task_id, prompt_file = json.loads(recorded.read_text())
    assert task_id == "bd-1" and Path(worktree) == recorded.parent
    assert "merged orch/bd-1" in result.stdout


def _all_text_under(root: Path) -> str:
    chunks = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and "/objects/" not in path.as_posix():
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


TOKEN = "agent-mail-token-0f9d2b7c"


def test_the_agent_mail_token_is_never_shown_or_written(tmp_path: Path) -> None:
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("bd-1", ("notes/**",),
                                                       script={"steps": [{"write": "notes/a.md", "delay": 0}]})])
    env = {**os.environ, "AGENT_MAIL_TOKEN": TOKEN}
    outputs = []
    for argv in (["run", "--yes", "--agent", "scripted", "--agent-mail", UNREACHABLE],
                 ["status", "--json"], ["status"], ["plan", "--json"]):
        result = subprocess.run([sys.executable, "-m", "orch_tui.app", *argv, "--repo", str(repo)],
                                capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout + result.stderr)
    assert TOKEN not in "\n".join(outputs)
    assert TOKEN not in _all_text_under(tmp_path)  # tracker, journal, state, lanes


@pytest.mark.slow
@pytest.mark.agent_mail
def test_the_agent_mail_token_stays_secret_with_the_real_server(tmp_path: Path) -> None:
    from tests.support.agent_mail_server import running_agent_mail

    repo = make_task_repo(tmp_path / "repo", [TaskSpec("bd-1", ("notes/**",),
                                                       script={"steps": [{"write": "notes/a.md", "delay": 0}]})])
    with running_agent_mail(tmp_path / "mail", env={"HTTP_BEARER_TOKEN": TOKEN}) as server:
        result = subprocess.run(
            [sys.executable, "-m", "orch_tui.app", "run", "--yes", "--agent", "scripted",
             "--agent-mail", server.url, "--repo", str(repo)],
            capture_output=True, text=True, env={**os.environ, "AGENT_MAIL_TOKEN": TOKEN},
            cwd=tmp_path, check=False)
        status = subprocess.run(
            [sys.executable, "-m", "orch_tui.app", "status", "--json", "--repo", str(repo)],
            capture_output=True, text=True, env={**os.environ, "AGENT_MAIL_TOKEN": TOKEN,
                                                 "ORCH_TUI_UNUSED": ""}, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "merged orch/bd-1" in result.stdout
    assert TOKEN not in result.stdout + result.stderr + status.stdout + status.stderr
    everything = _all_text_under(repo) + _all_text_under(tmp_path / ".repo.orch-lanes")
    assert TOKEN not in everything


PASSWORD = "opencode-password-5c1e9a"


@pytest.mark.slow
@pytest.mark.opencode
async def test_the_opencode_password_is_never_shown_or_written(tmp_path: Path, monkeypatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    from orch_tui.orchestration.agents import opencode_serve
    from orch_tui.orchestration.commands import EngineState
    from orch_tui.orchestration.settings.config import Config
    from orch_tui.orchestration.engine.wiring import build_engine
    from tests.support.fake_model_server import FakeModelServer
    from tests.support.helpers import opencode_binary
    from tests.support.opencode_server import opencode_env

    binary = opencode_binary()
    monkeypatch.setattr(opencode_serve.secrets, "token_urlsafe", lambda size=None: PASSWORD)
    caplog.set_level(logging.DEBUG)
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("bd-1", ("notes/**",))])
    home = tmp_path / "home"
    home.mkdir()
    events = []
    with FakeModelServer() as model:
        config = Config(agent="opencode", opencode_binary=str(binary), opencode_model="fake/scripted",
                        agent_mail_url=UNREACHABLE, worktree_dir=str(tmp_path / "lanes"))
        engine = build_engine(repo, config, runner_env=opencode_env(home, config=model.opencode_config()))
        engine.subscribe(events.append)
        await engine.start()
        try:
            await engine.propose()
            await engine.approve()
            state = await asyncio.wait_for(engine.wait_until_settled(), 180)
            runner = engine.parts.runner
            assert runner.url is not None, "the OpenCode server was started"
            server_log = "\n".join(runner.server_log.tail(500))
        finally:
            await engine.close()
    assert state in (EngineState.IDLE, EngineState.WAITING_FOR_PERSON)
    assert PASSWORD not in repr(events)
    assert PASSWORD not in caplog.text
    assert PASSWORD not in server_log
    assert PASSWORD not in _all_text_under(repo) + _all_text_under(tmp_path / "lanes")


def test_servers_orch_tui_starts_listen_on_loopback_only() -> None:
    """`opencode serve` is the one server orch-tui starts; its argv names 127.0.0.1."""
    source = (PROJECT_ROOT / "orchestration" / "agents" / "opencode_serve.py").read_text()
    tree = ast.parse(source)
    argvs = [node for node in ast.walk(tree) if isinstance(node, ast.List)
             and any(isinstance(item, ast.Constant) and item.value == "serve" for item in node.elts)]
    assert argvs, "the serve argv was not found"
    for node in argvs:
        words = [item.value for item in node.elts if isinstance(item, ast.Constant)]
        assert words[words.index("--hostname") + 1] == "127.0.0.1"


@pytest.mark.slow  # a whole `orch-tui run` (about 2 s)
def test_an_agent_cannot_rewrite_the_tracker(tmp_path: Path) -> None:
    forged = '{"id":"evil-1","title":"injected by an agent","status":"open"}\n'
    script = {"steps": [{"write": ".beads/issues.jsonl", "content": forged, "delay": 0},
                        {"write": "notes/a.md", "content": "real work\n", "delay": 0}]}
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("bd-1", ("notes/**",), script=script)])
    result = subprocess.run([sys.executable, "-m", "orch_tui.app", "run", "--repo", str(repo), "--yes",
                             "--agent", "scripted", "--agent-mail", UNREACHABLE],
                            capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(line) for line in (repo / ".beads" / "issues.jsonl").read_text().splitlines()]
    assert [record["id"] for record in records] == ["bd-1"]
    assert records[0]["status"] == "closed"
    assert (repo / "notes" / "a.md").read_text() == "real work\n"


def test_status_shows_server_and_journal_text_literally() -> None:
    from orch_tui.app.commands.status import _human

    hostile = "src/\x1b]52;c;cHduZWQ=\x07\u202e[bold]x"
    status = {"repo": "/r", "orchestrator": None, "usage": {"tokens": 0, "cost": 0.0, "lanes": []},
              "journal": {"state": "running", "batch": [hostile]},
              "lanes": [{"index": 1, "branch": f"orch/{hostile}", "exists": True, "path": "/p"}],
              "merge": {"stage": "conflict", "branch": hostile},
              "reservations": {"reachable": True, "url": "u",
                               "entries": [{"path_pattern": hostile, "agent": hostile, "expires_at": None}],
                               "local_entries": [{"path_pattern": hostile, "agent": hostile, "expires_at": None}]}}
    shown = _human(status)
    assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
    assert shown.count("\\x1b]52;c;cHduZWQ=\\x07\\u202e[bold]x") == 7
