"""The OpenCode runners against the real `opencode` binary and a scripted model server.

One `opencode serve` is shared by every server-mode test in this module (it holds ~315 MB),
and one isolated HOME by every test, so the expensive start-up happens once.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from orch_tui.orchestration.agents import AgentRequest, OpenCodeRunRunner, OpenCodeServerRunner
from orch_tui.orchestration.infra.process_group import group_alive, wait_group_gone
from orch_tui.orchestration.events import Event, LaneOutcome, LaneProgress
from orch_tui.orchestration.model import Task
from tests.support.fake_model_server import FakeModelServer
from tests.support.helpers import git, make_repo, opencode_binary

pytestmark = [pytest.mark.slow, pytest.mark.opencode, pytest.mark.asyncio(loop_scope="module")]


def isolated_env(home: Path, config: dict[str, object]) -> dict[str, str]:
    return {
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"), "XDG_STATE_HOME": str(home / ".local/state"),
        "OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_SHARE": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "npm_config_registry": "http://127.0.0.1:9/",  # skips a 60 MB plugin download
        "OPENCODE_CONFIG_CONTENT": json.dumps(config),
    }


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("opencode-home")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(model: FakeModelServer, home: Path) -> AsyncIterator[OpenCodeServerRunner]:
    runner = OpenCodeServerRunner(str(opencode_binary()), "fake/scripted",
                                  env=isolated_env(home, model.opencode_config()))
    await runner.start()
    yield runner
    await runner.close()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("project") / "repo",
                     {"src/app.py": "GREETING = 'hi'\n", "docs/guide.md": "# Guide\n"})


_lanes = iter(range(1, 1000))


def new_lane(repo: Path) -> tuple[Path, str]:
    name = f"lane-{next(_lanes)}"
    path = repo.parent / name
    git(repo, "worktree", "add", "-q", "-b", f"orch/{name}", str(path))
    return path, git(repo, "rev-parse", "HEAD")


def request(lane: int, worktree: Path, base: str, task_id: str, timeout: float = 90.0) -> AgentRequest:
    task = Task(task_id, f"Task {task_id}", description="Edit the app.\nFiles: src/**")
    return AgentRequest(lane, task, worktree, base, task.declared_files, timeout)


async def test_two_lanes_edit_two_worktrees_at_once_through_one_server(
        server: OpenCodeServerRunner, model: FakeModelServer, repo: Path) -> None:
    (one, base), (two, _) = new_lane(repo), new_lane(repo)
    model.script(str(one), [model.tool("write", filePath=f"{one}/src/one.py", content="ONE = 1\n"),
                            model.text("Wrote src/one.py.")])
    model.script(str(two), [model.tool("edit", filePath=f"{two}/src/app.py", oldString="'hi'", newString="'hello'"),
                            model.text("Edited src/app.py.")])
    events: list[Event] = []
    first, second = await asyncio.gather(server.run(request(1, one, base, "bd-1"), events.append),
                                         server.run(request(2, two, base, "bd-2"), events.append))

    assert (first.outcome, second.outcome) == (LaneOutcome.SUCCEEDED, LaneOutcome.SUCCEEDED)
    assert (one / "src/one.py").read_text() == "ONE = 1\n"
    assert (two / "src/app.py").read_text() == "GREETING = 'hello'\n"
    assert first.files_changed == ("src/one.py",) and second.files_changed == ("src/app.py",)
    progress = [event for event in events if isinstance(event, LaneProgress)]
    for lane, tool in ((1, "write src/one.py"), (2, "edit src/app.py")):
        actions = [event.action for event in progress if event.lane == lane]
        assert f"{tool} (started)" in actions and f"{tool} (done)" in actions
        assert any(event.status == "busy" for event in progress if event.lane == lane)
        assert any((event.tokens or 0) > 0 for event in progress if event.lane == lane)


async def test_failed_edit_is_reported_as_failed(
        server: OpenCodeServerRunner, model: FakeModelServer, repo: Path) -> None:
    worktree, base = new_lane(repo)
    model.script(str(worktree), [model.tool("edit", filePath=f"{worktree}/src/app.py",
                                            oldString="NOT IN THE FILE", newString="x"),
                                 model.text("I could not do it.")])
    result = await server.run(request(1, worktree, base, "bd-3"), lambda event: None)
    assert result.outcome is LaneOutcome.FAILED
    assert "edit src/app.py failed" in result.reason and "oldString" in result.reason


async def session_busy(server: OpenCodeServerRunner, worktree: Path) -> bool:
    """Whether any session of the worktree is still working, as the server reports it."""
    assert server.url is not None and server._client is not None
    response = await server._client.get("/session/status", params={"directory": str(worktree)})
    response.raise_for_status()
    return bool(response.json())


async def test_dead_model_server_ends_in_a_timeout_and_the_session_is_stopped(
        server: OpenCodeServerRunner, model: FakeModelServer, repo: Path) -> None:
    worktree, base = new_lane(repo)
    model.set_mode(str(worktree), "drop")
    events: list[Event] = []
    result = await server.run(request(1, worktree, base, "bd-4", timeout=8.0), events.append)
    assert result.outcome is LaneOutcome.TIMED_OUT
    assert any(isinstance(event, LaneProgress) and event.status == "retry" for event in events)
    assert not await session_busy(server, worktree)


async def test_abort_mid_task_stops_the_session(
        server: OpenCodeServerRunner, model: FakeModelServer, repo: Path) -> None:
    worktree, base = new_lane(repo)
    model.set_mode(str(worktree), "hang")
    busy = asyncio.Event()

    def sink(event: Event) -> None:
        if isinstance(event, LaneProgress) and event.status == "busy":
            busy.set()

    running = asyncio.create_task(server.run(request(3, worktree, base, "bd-5"), sink))
    await asyncio.wait_for(busy.wait(), 60)
    assert await session_busy(server, worktree)
    await server.abort(3)
    result = await running
    assert result.outcome is LaneOutcome.ABORTED
    for _ in range(100):
        if not await session_busy(server, worktree):
            break
        await asyncio.sleep(0.1)
    assert not await session_busy(server, worktree)


async def test_server_refuses_requests_without_its_password(server: OpenCodeServerRunner) -> None:
    assert server.url is not None
    async with httpx.AsyncClient() as anonymous:
        response = await anonymous.get(f"{server.url}/session/status")
    assert response.status_code == 401


async def test_closing_the_server_leaves_no_process_behind(server: OpenCodeServerRunner) -> None:
    pgid = server.pgid
    assert pgid is not None and group_alive(pgid)
    await server.close()
    assert await wait_group_gone(pgid, 30)


# -- fallback: one `opencode run` per lane --------------------------------------------------

async def test_run_mode_failed_edit_is_failed_although_opencode_exits_0(
        model: FakeModelServer, home: Path, repo: Path) -> None:
    worktree, base = new_lane(repo)
    model.script(str(worktree), [model.tool("write", filePath=f"{worktree}/src/ok.py", content="OK = 1\n"),
                                 model.tool("edit", filePath=f"{worktree}/src/app.py",
                                            oldString="NOT IN THE FILE", newString="x"),
                                 model.text("Done, sort of.")])
    runner = OpenCodeRunRunner(str(opencode_binary()), "fake/scripted",
                               env=isolated_env(home, model.opencode_config()))
    result = await runner.run(request(1, worktree, base, "bd-6"), lambda event: None)
    assert "[orch] opencode run exited with status 0" in result.log_tail
    assert result.outcome is LaneOutcome.FAILED
    assert "edit src/app.py failed" in result.reason
    assert (worktree / "src/ok.py").read_text() == "OK = 1\n"
    assert await wait_group_gone(runner.pgids[1], 30)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_run_mode_dead_model_server_times_out_with_no_process_left(
        model: FakeModelServer, home: Path, repo: Path) -> None:
    worktree, base = new_lane(repo)
    config = model.opencode_config()
    config["provider"]["fake"]["options"]["baseURL"] = f"http://127.0.0.1:{closed_port()}/v1"  # type: ignore[index]
    runner = OpenCodeRunRunner(str(opencode_binary()), "fake/scripted", env=isolated_env(home, config))
    result = await runner.run(request(1, worktree, base, "bd-7", timeout=10.0), lambda event: None)
    assert result.outcome is LaneOutcome.TIMED_OUT
    assert await wait_group_gone(runner.pgids[1], 30)

