"""Start and stop a real MCP Agent Mail server (the PyPI build) for tests and benchmarks.

    with running_agent_mail(tmp_path) as server:
        client = AgentMailClient(server.url)
        ...
        server.kill()     # simulate a crash (SIGKILL)
        server.start()    # same port, same database and storage

The server runs from the project's own tool environment (`.tools/agent-mail`, installed by
tests/tools/install.sh) on 127.0.0.1 with a free port, its working directory, HOME, database
and git storage all inside `root`, so nothing leaks into the user's home and parallel test
runs do not share state.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, Mapping

import httpx

from tests.support.helpers import agent_mail_python

STARTUP_DEADLINE_SECONDS = 90.0
"""Generous: the server imports many packages, and two cores are shared with other runs."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class AgentMailServer:
    """One server process with its own storage under `root`; restartable on the same port."""

    def __init__(self, root: Path, port: int | None = None,
                 env: Mapping[str, str] | None = None, python: Path | None = None) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.python = python or agent_mail_python()
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / "server.log"
        root.mkdir(parents=True, exist_ok=True)
        (root / "home").mkdir(exist_ok=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The MCP endpoint (what `AgentMailClient` takes)."""
        return f"{self.base_url}/mcp/"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("HTTP_", "DATABASE_", "STORAGE_", "MCP_"))}
        env.update({
            "HOME": str(self.root / "home"),
            "HTTP_HOST": self.host,
            "HTTP_PORT": str(self.port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.root / 'storage.sqlite3'}",
            "STORAGE_ROOT": str(self.root / "archive"),
            "APP_ENVIRONMENT": "test",
            "LOG_RICH_ENABLED": "false",
            "TOOLS_LOG_ENABLED": "false",
            "LLM_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        """Start (or restart) the server and wait until /health/readiness answers."""
        if self.running:
            return
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(self.python), "-m", "mcp_agent_mail.cli", "serve-http"],
            cwd=self.root, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        self._wait_until_alive()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _wait_until_alive(self) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Agent Mail server exited at start:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                # Readiness (schema created, database answering), not just liveness: the
                # first tool call right after start has been seen to fail otherwise.
                if httpx.get(f"{self.base_url}/health/readiness", timeout=2.0).status_code == 200:
                    return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"Agent Mail server did not answer within "
                           f"{STARTUP_DEADLINE_SECONDS:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM to its process group), killing it if it lingers."""
        self._signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """Die at once, as in a crash (SIGKILL to its process group)."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        self.process = None

    def _signal(self, number: signal.Signals) -> None:
        if self.running and self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, number)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_agent_mail(root: Path, port: int | None = None,
                       env: Mapping[str, str] | None = None) -> Iterator[AgentMailServer]:
    """A started server whose storage lives under `root`; stopped on exit."""
    server = AgentMailServer(root, port=port, env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
