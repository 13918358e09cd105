"""Start the real `opencode serve` for a test, isolated from the machine's own OpenCode.

- `opencode_env(home, ...)`: the environment that keeps OpenCode's state under `home`
  (HOME and the XDG folders), turns off update checks, model downloads and sharing, and
  points npm at a closed port so a fresh HOME does not download an unneeded ~60 MB plugin.
- `OpencodeServer.start(binary, directory, home, ...)`: `opencode serve` on 127.0.0.1 with
  port 0, waits for its "listening on" line, and `stop()` kills its whole process group.
  Use it as a context manager. `get(path, directory=...)` asks the server about one
  directory (the `x-opencode-directory` header), so one server can serve many worktrees.
- `opencode_home` fixture (session scoped): one HOME for every test of the session, so the
  OpenCode data directory is created once. Import it into a test module to use it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

LISTENING = re.compile(r"listening on (?P<url>http://127\.0\.0\.1:\d+)")
START_TIMEOUT_SECONDS = 90.0


def opencode_env(home: Path, *, config: dict[str, Any] | None = None,
                 directory: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an isolated OpenCode process (see opencode-e2e facts in the module doc)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OPENCODE_", "XDG_"))}
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_SHARE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "npm_config_registry": "http://127.0.0.1:9/",
    })
    base_config = {"$schema": "https://opencode.ai/config.json", "autoupdate": False,
                   "share": "disabled"}
    env["OPENCODE_CONFIG_CONTENT"] = json.dumps({**base_config, **(config or {})})
    if directory is not None:
        env["PWD"] = str(directory)  # OpenCode prefers PWD over the real working directory
    env.update(extra or {})
    return env


class OpencodeServer:
    """A running `opencode serve`; `url` is its base address."""

    def __init__(self, process: subprocess.Popen[str], url: str, output: list[str]) -> None:
        self.process = process
        self.url = url
        self.output = output
        self.client = httpx.Client(base_url=url, timeout=30.0)

    @classmethod
    def start(cls, binary: Path, directory: Path, home: Path, *,
              config: dict[str, Any] | None = None, extra_env: dict[str, str] | None = None,
              timeout: float = START_TIMEOUT_SECONDS) -> OpencodeServer:
        process = subprocess.Popen(
            [str(binary), "serve", "--hostname", "127.0.0.1", "--port", "0"],
            cwd=directory, env=opencode_env(home, config=config, directory=directory,
                                            extra=extra_env),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)
        output: list[str] = []
        found = threading.Event()
        url: list[str] = []

        def drain() -> None:  # keeps reading so the server never blocks on a full pipe
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line)
                match = LISTENING.search(line)
                if match and not url:
                    url.append(match.group("url"))
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        found.wait(timeout)
        if not url:
            _kill_group(process)
            raise AssertionError(f"opencode serve did not start within {timeout:.0f} s "
                                 f"(exit {process.poll()}):\n{''.join(output)[-4000:]}")
        return cls(process, url[0], output)

    def get(self, path: str, directory: Path | None = None) -> Any:
        headers = {"x-opencode-directory": str(directory)} if directory else {}
        response = self.client.get(path, headers=headers)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.client.close()
        _kill_group(self.process)

    def __enter__(self) -> OpencodeServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the whole group (children too), SIGKILL if the leader is still up."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=10.0)
            break
        except subprocess.TimeoutExpired:
            continue
    process.wait(timeout=10.0)


@pytest.fixture(scope="session")
def opencode_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One isolated HOME for every OpenCode process of the test session."""
    return tmp_path_factory.mktemp("opencode-home")
