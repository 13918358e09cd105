"""The real Agent Mail server going wrong while `orch-tui run` runs a batch: answering seconds
late, answering HTTP errors, answering bytes that are not JSON-RPC, dying the moment it has
taken a lane's claim (the answer never arrives) and coming back.

A proxy of our own (tests/support/fault_proxy.py) sits between orch-tui and the real server and
puts the fault in once every lane has started. Each time: the run says why it went to
sequential mode, no lane fails, every task merges, and the next start leaves no
reservation of orch-tui's lanes on the server (a claim whose answer was lost included).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote

import pytest

from orch_tui.orchestration.reservations.agent_mail import AgentMailClient
from tests.support.agent_mail_server import AgentMailServer, running_agent_mail
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.helpers import agent_mail_python, git
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

pytestmark = [pytest.mark.slow, pytest.mark.agent_mail]

TASKS = ("m-1", "m-2", "m-3")
FAULT_SECONDS = 2.0
DEADLINE = 120.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentMailServer]:
    agent_mail_python()
    with running_agent_mail(tmp_path_factory.mktemp("mail")) as running:
        yield running


def _slow(seconds: float) -> Fault:
    return Fault("delay", seconds=seconds)


def _dies_mid_claim(server: AgentMailServer, restarts: list[threading.Thread]) -> Fault:
    """The server takes the claim, then dies before answering; it is back a little later."""
    def die() -> None:
        server.kill()
        restarts.append(threading.Timer(0.5, server.start))
        restarts[-1].start()
    return Fault("lose_answer", tool="file_reservation_paths", times=1, then=die)


FaultMaker = Callable[[AgentMailServer, list[threading.Thread]], Fault]
FAULTS: dict[str, tuple[FaultMaker, str]] = {
    "slow": (lambda *_: _slow(6.0), "within "),  # longer than the client waits (5 s)
    "errors": (lambda *_: Fault("error"), "HTTP 500"),
    "garbage": (lambda *_: Fault("garbage"), "not a JSON-RPC answer"),
    "dies-mid-claim": (_dies_mid_claim, "Server disconnected without sending a response"),
}


def _run(repo: Path, url: str, while_running: Callable[[], None] | None = None) -> tuple[int, str]:
    argv = [sys.executable, "-m", "orch_tui.app.cli", "run", "--yes", "--agent", "scripted",
            "--repo", str(repo), "--agent-mail", url]
    run = subprocess.Popen(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            if while_running is not None and sum(" started on " in seen for seen in lines) == len(TASKS) \
                    and " started on " in line:
                while_running()
        run.wait(timeout=DEADLINE)
    finally:
        run.kill()
    output = "".join(lines)
    assert "Traceback" not in output, output
    return run.returncode, output


async def _held_on(server: AgentMailServer, repo: Path) -> list[dict[str, Any]]:
    async with AgentMailClient(server.url) as client:
        rows = await client.read_resource(f"resource://file_reservations/{quote(str(repo), safe='')}?active_only=true")
    return [row for row in rows if not row.get("released_ts")] if isinstance(rows, list) else []


@pytest.mark.parametrize("name", list(FAULTS))
def test_agent_mail_going_wrong_mid_batch_costs_no_lane(tmp_path: Path, server: AgentMailServer, name: str) -> None:
    make_fault, cause = FAULTS[name]
    tasks = [TaskSpec(task_id, (f"src/{task_id}.txt",), script={"steps": [
        {"append": f"src/{task_id}.txt", "delay": 1.0}, {"append": f"src/{task_id}.txt", "delay": 1.0}]})
        for task_id in TASKS]
    repo = make_task_repo(tmp_path / "repo", tasks, files={".orch-tui.toml": f'worktree_dir = "{tmp_path / "lanes"}"\n'})
    restarts: list[threading.Thread] = []
    with FaultProxy(server.base_url) as proxy:
        def fault() -> None:
            proxy.fault = make_fault(server, restarts)
            if proxy.fault.kind != "lose_answer":
                threading.Timer(FAULT_SECONDS, setattr, (proxy, "fault", None)).start()

        status, output = _run(repo, proxy.url, fault)
        assert status == 0, output
        assert "mode: parallel (" in output.split(" started on ")[0]
        said = [line for line in output.splitlines() if "mode: sequential (" in line]
        assert len(said) == 1 and cause in said[0], output
        assert not [line for line in output.splitlines() if line.split("] ")[-1].startswith("lane ")
                    and " failed" in line], output
        assert read_statuses(repo) == dict.fromkeys(TASKS, "closed")
        for task_id in TASKS:
            assert f"{task_id}: " in git(repo, "show", f"main:src/{task_id}.txt")

        for restart in restarts:
            restart.join()  # the server is back
        status, output = _run(repo, proxy.url)  # the next start: nothing ready, leftovers released
        assert status == 0 and "mode: parallel (" in output, output
    assert asyncio.run(_held_on(server, repo)) == []
