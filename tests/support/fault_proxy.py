"""An HTTP proxy on 127.0.0.1 that puts faults between orch-tui and a real server.

Point orch-tui at `proxy.url` instead of the server's own address; every request is
forwarded as it came and the answer returned, unless a fault is set:

    with FaultProxy("http://127.0.0.1:8765") as proxy:
        proxy.fault = Fault("delay", seconds=1.5)        # every answer 1.5 s late
        proxy.fault = Fault("error")                      # HTTP 500 with a plain-text body
        proxy.fault = Fault("garbage")                    # HTTP 200 with bytes that are no JSON-RPC
        proxy.fault = Fault("drop")                       # the connection closed, no answer
        proxy.fault = Fault("lose_answer", tool="file_reservation_paths",
                            then=server.kill)             # forwarded (the server acted), `then`
                                                          # runs, and the answer never arrives
        proxy.fault = None                                # back to forwarding

`tool` limits a fault to MCP `tools/call` requests naming that tool (directly or through
the fork's `call_extended_tool`); `times` limits how many requests it hits. `proxy.tools`
lists the tool calls seen, in order. A server that is down (connection refused) looks the
same through the proxy: the connection is closed without an answer. Standard library only;
the proxy serves from daemon threads.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit

KINDS = ("delay", "error", "garbage", "drop", "lose_answer")
GARBAGE = b"<html><body>\x00\xff not JSON-RPC \xfe</body>"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Fault:
    kind: str
    seconds: float = 0.0
    tool: str | None = None
    times: int | None = None
    then: Callable[[], None] | None = None
    """For `lose_answer`: run after the server answered, before the answer is dropped."""

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind


def tool_of(body: bytes) -> str | None:
    """The MCP tool a JSON-RPC request calls (None for other requests)."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None
    if not isinstance(request, dict) or request.get("method") != "tools/call":
        return None
    params = request.get("params") or {}
    name = params.get("name")
    if name == "call_extended_tool":
        return str((params.get("arguments") or {}).get("tool_name"))
    return str(name) if name else None


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.fault: Fault | None = None
        self.tools: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "proxy not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The MCP endpoint through the proxy."""
        return f"{self.base_url}/mcp/"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _fault_for(self, tool: str | None) -> Fault | None:
        """The fault this request meets (counting it against `times`), or None."""
        with self._lock:
            if tool:
                self.tools.append(tool)
            fault = self.fault
            if fault is None or (fault.tool is not None and fault.tool != tool):
                return None
            if fault.times is not None:
                if fault.times <= 0:
                    return None
                fault.times -= 1
            return fault


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._proxy(b"")

    def do_POST(self) -> None:
        self._proxy(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _proxy(self, body: bytes) -> None:
        fault = self.owner._fault_for(tool_of(body))
        kind = fault.kind if fault else None
        if kind == "delay":
            time.sleep(fault.seconds)
        elif kind == "drop":
            self.close_connection = True
            return
        elif kind in ("error", "garbage"):
            status, content = (500, b"Internal Server Error") if kind == "error" else (200, GARBAGE)
            self._answer(status, [("Content-Type", "text/plain" if kind == "error" else "text/html")], content)
            return
        answer = self._forward(body)
        if kind == "lose_answer":
            if fault.then is not None:
                fault.then()
            self.close_connection = True
            return
        if answer is None:  # the server is down: so is the proxy's answer
            self.close_connection = True
            return
        self._answer(*answer)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
        connection = http.client.HTTPConnection(self.owner.upstream_host, self.owner.upstream_port, timeout=60)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            content = response.read()
        except OSError:
            return None
        finally:
            connection.close()
        kept = [(name, value) for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP]
        return response.status, kept, content

    def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        try:
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting: its timeout
            self.close_connection = True
