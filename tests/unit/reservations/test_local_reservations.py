"""The embedded reservation ledger: overlap refused, TTL, renewal, crash of orch-tui, and
`auto` choosing between it and Agent Mail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orch_tui.orchestration.reservations import local_ledger as local_reservations
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.events import Mode, ModeChanged, ReservationsChanged
from orch_tui.orchestration.reservations.local_ledger import (LOCAL_MODE_REASON, LedgerError, LocalLedger,
                                                      LocalReservations)
from orch_tui.orchestration.reservations.backend import AutoReservations
from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager
from orch_tui.orchestration.engine.wiring import make_reservations
from tests.support.agent_mail_server import free_port, running_agent_mail
from tests.support.helpers import agent_mail_python
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses


def _manager(repo: Path, events: list[Any] | None = None, ttl: float = 600) -> LocalReservations:
    return LocalReservations(LocalLedger.for_repo(repo), str(repo), 4, ttl,
                             events.append if events is not None else None)


class _Clock:
    """Moves the ledger's idea of now forward, so TTLs are tested without waiting."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = timedelta()
        real = local_reservations._now
        monkeypatch.setattr(local_reservations, "_now", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


async def test_an_overlapping_claim_is_refused_naming_the_holder(repo: Path) -> None:
    events: list[Any] = []
    manager = _manager(repo, events)
    assert await manager.start() is Mode.LOCAL
    assert events[0] == ModeChanged(Mode.LOCAL, LOCAL_MODE_REASON)

    assert (await manager.claim(1, "T-1", ["src/a/**"])).acquired
    assert (await manager.claim(2, "T-2", ["docs/*.md"])).acquired
    refused = await manager.claim(3, "T-3", ["src/b.py", "src/a/x.py"])
    assert not refused.acquired
    assert [(h.lane, h.path, h.path_pattern) for h in refused.conflicts] == [(1, "src/a/x.py", "src/a/**")]
    assert refused.reason == "overlaps a running lane's patterns"  # one of ours: the lane waits

    # All or nothing: lane 3's other pattern was not written either.
    assert {(r.lane, r.path_pattern) for r in manager.ledger} == {(1, "src/a/**"), (2, "docs/*.md")}
    assert events[-1] == ReservationsChanged(manager.ledger)

    # Someone else's entry in the same ledger (another orch-tui command of this repository).
    LocalLedger.for_repo(repo).reserve("person", ["src/c.py"], 600)
    other = await manager.claim(3, "T-3", ["src/*.py"])
    assert not other.acquired and other.reason == "held by another agent"
    assert [(h.lane, h.agent) for h in other.conflicts] == [(None, "person")]

    await manager.release(1)
    assert (await manager.claim(3, "T-3", ["src/a/x.py"])).acquired
    assert {r.path_pattern for r in await manager.refresh_ledger()} == {"docs/*.md", "src/a/x.py", "src/c.py"}


async def test_entries_expire_by_ttl(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    ledger = LocalLedger.for_repo(repo)
    ledger.reserve("crashed-run", ["src/**"], ttl_seconds=120)
    manager = _manager(repo)
    await manager.start()
    assert not (await manager.claim(1, "T-1", ["src/a.py"])).acquired

    clock.advance(121)
    assert ledger.active() == ()
    assert await manager.refresh_ledger() == ()
    assert (await manager.claim(1, "T-1", ["src/a.py"])).acquired


async def test_long_tasks_are_renewed_before_they_expire(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    manager = _manager(repo, ttl=300)  # renewed when 100 s or less are left
    await manager.start()
    assert (await manager.claim(1, "T-1", ["src/**"])).acquired
    first_expiry = manager.ledger[0].expires_at
    assert first_expiry is not None

    clock.advance(60)
    assert await manager.renew_due() == 0  # 240 s left: not due yet
    clock.advance(150)
    assert await manager.renew_due() == 1
    clock.advance(200)  # past the first expiry: the renewed entry still holds
    assert [(r.lane, r.path_pattern) for r in await manager.refresh_ledger()] == [(1, "src/**")]
    assert manager.ledger[0].expires_at > first_expiry + timedelta(seconds=200)
    assert not (await _manager(repo).claim(2, "T-2", ["src/x.py"])).acquired


async def test_start_releases_a_crashed_runs_leftovers_and_adopts_running_lanes(repo: Path) -> None:
    before = _manager(repo)
    await before.start()
    await before.claim(1, "T-1", ["one/**"])
    await before.claim(2, "T-2", ["two/**"])
    # The process dies here; a new one starts with lane 1 still running (from the journal).
    after = _manager(repo)
    await after.start(adopt={1: ("T-1", ["one/**"])})
    assert [(r.lane, r.path_pattern) for r in after.ledger] == [(1, "one/**")]
    assert after.running_lanes() == (1,)


def test_a_damaged_ledger_names_the_file_and_the_fix(repo: Path) -> None:
    ledger = LocalLedger.for_repo(repo)
    ledger.path.write_text("{not json")
    with pytest.raises(LedgerError, match=r"reservations\.json is damaged .*fix: delete the file"):
        ledger.active()


# ------------------------------------------------------------------ auto

async def test_auto_without_agent_mail_uses_the_local_ledger(repo: Path) -> None:
    events: list[Any] = []
    url = f"http://127.0.0.1:{free_port()}/mcp/"
    backend = make_reservations(repo, Config(agent_mail_url=url), events.append)
    assert isinstance(backend, AutoReservations)
    assert await backend.start() is Mode.LOCAL
    assert backend.chosen is backend.local
    assert backend.mode_reason == f"{LOCAL_MODE_REASON}; no Agent Mail at {url.removesuffix('/mcp/')}"
    assert [e.mode for e in events if isinstance(e, ModeChanged)] == [Mode.LOCAL]
    assert backend.can_start_lane(3)
    assert (await backend.claim(1, "T-1", ["a/**"])).acquired
    assert (await backend.claim(2, "T-2", ["b/**"])).acquired
    await backend.aclose()


class _AliveButBroken(BaseHTTPRequestHandler):
    """Answers the liveness probe, refuses every MCP call (a server with the wrong token)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(200, b'{"status": "alive"}')

    def do_POST(self) -> None:  # noqa: N802
        self._answer(401, b'{"detail": "Unauthorized"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def test_auto_with_agent_mail_answering_but_refusing_uses_the_local_ledger(repo: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AliveButBroken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    events: list[Any] = []
    try:
        backend = make_reservations(repo, Config(agent_mail_url=f"http://127.0.0.1:{server.server_port}/mcp/"),
                                    events.append)
        assert isinstance(backend, AutoReservations)
        assert await backend.start() is Mode.LOCAL
        assert "answers but is unusable" in backend.mode_reason
        assert [e.mode for e in events if isinstance(e, ModeChanged)][-1] is Mode.LOCAL
        assert (await backend.claim(1, "T-1", ["a/**"])).acquired
        await backend.aclose()
    finally:
        server.shutdown()
        server.server_close()


async def test_configured_local_never_asks_agent_mail(repo: Path) -> None:
    backend = make_reservations(repo, Config(reservations="local"))
    assert isinstance(backend, LocalReservations)
    assert await backend.start() is Mode.LOCAL


async def test_configured_agent_mail_without_a_server_is_sequential(repo: Path) -> None:
    backend = make_reservations(repo, Config(reservations="agent-mail",
                                             agent_mail_url=f"http://127.0.0.1:{free_port()}/mcp/"))
    assert isinstance(backend, ReservationManager)
    assert await backend.start() is Mode.SEQUENTIAL
    await backend.aclose()


@pytest.mark.slow
@pytest.mark.agent_mail
async def test_auto_with_agent_mail_answering_uses_it(repo: Path, tmp_path: Path) -> None:
    agent_mail_python()
    with running_agent_mail(tmp_path / "mail") as server:
        backend = make_reservations(repo, Config(agent_mail_url=server.url))
        assert isinstance(backend, AutoReservations)
        try:
            assert await backend.start() is Mode.PARALLEL
            assert backend.chosen is backend.agent_mail
            assert (await backend.reserve(1, "T-1", ["a/**"])).acquired
            assert [r.path_pattern for r in await backend.published()] == ["a/**"]
            assert LocalLedger.for_repo(repo).active() == ()  # nothing went to the local ledger
            await backend.release(1)
        finally:
            await backend.aclose()


# ------------------------------------------------------------------ a real crash

ORCH = [sys.executable, "-m", "orch_tui.app"]


def _status(repo: Path) -> dict[str, Any]:
    result = subprocess.run([*ORCH, "status", "--repo", str(repo), "--json"], capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.slow
def test_the_ledger_survives_sigkill_of_orch_tui(tmp_path: Path) -> None:
    slow = [{"append": "PLACEHOLDER", "delay": 0.5}] * 8
    tasks = [TaskSpec(f"k-{n}", (f"src/k{n}/**",),
                      script={"steps": [{**step, "append": f"src/k{n}/a.txt"} for step in slow]})
             for n in (1, 2)]
    repo = make_task_repo(tmp_path / "repo", tasks)
    (repo / ".orch-tui.toml").write_text(f'agent = "scripted"\nworktree_dir = "{tmp_path / "lanes"}"\n'
                                         'reservations = "local"\n')
    ledger = LocalLedger.for_repo(repo)
    process = subprocess.Popen([*ORCH, "run", "--repo", str(repo), "--yes"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(ledger.active()) < 2:
            assert process.poll() is None and time.monotonic() < deadline, "both lanes never reserved"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the orchestrator and its agents, no cleanup
        process.wait(timeout=30)

    # Every orch-tui command of the repository still sees what the dead run held...
    local = _status(repo)["reservations"]["local_entries"]
    assert {entry["path_pattern"] for entry in local} == {"src/k1/**", "src/k2/**"}
    # ...and nobody else can take those files until the run is back or the TTL lapses.
    _, refusals = ledger.reserve("someone-else", ["src/k2/b.txt"], 600)
    assert [refusal.entry.path_pattern for refusal in refusals] == ["src/k2/**"]

    # The restarted run resumes the batch and gives every reservation back.
    rerun = subprocess.run([*ORCH, "run", "--repo", str(repo), "--yes"], capture_output=True,
                           text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert set(read_statuses(repo).values()) == {"closed"}
    assert ledger.active() == ()
