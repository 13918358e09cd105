"""A scripted OpenAI-compatible model server on 127.0.0.1 for driving the real opencode binary.

OpenCode streams every chat completion; this server answers each with a scripted turn,
chosen by the session's working directory (the `Working directory: <path>` line of the system
prompt) and by how many assistant messages follow the last user message (one per finished
step). A script is a list of turns:

    FakeModelServer.tool("write", filePath="/abs/a.py", content="x = 1\\n")  -> one tool call
    FakeModelServer.text("done")                                             -> final answer

A follow-up (a later user message in the same session) gets its own script: with
`script_follow_up(directory, marker, turns)`, a request whose last user message contains
`marker` is answered from `turns` (counting assistant messages after that message).

A directory can instead be put in a mode: "fail" (HTTP 400 at once), "hang" (the request
is accepted and never answered until the server stops), "drop" (the connection is closed
without an answer, as when the model server dies; OpenCode retries that for a long time) or
"stall" (the reply starts streaming, a few words, then nothing until the server stops).
`set_delay(directory, seconds)` makes every scripted answer for it start that much later. A directory without a script gets
one text turn. Requests without `tools` ask for a session title and get plain text.
Standard library only; the server runs in a daemon thread.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_ID = "scripted"
_WORKDIR = re.compile(r"Working directory: (?P<path>\S.*?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Turn:
    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()


@dataclass
class _Directory:
    turns: list[Turn] = field(default_factory=list)
    mode: str = "script"  # script | fail | hang | drop | stall
    delay: float = 0.0
    follow_ups: dict[str, list[Turn]] = field(default_factory=dict)


class FakeModelServer:
    """Start with `start()` (port 0), stop with `stop()`; also a context manager."""

    def __init__(self) -> None:
        self._directories: dict[str, _Directory] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self._httpd: ThreadingHTTPServer | None = None

    # -- scripting -----------------------------------------------------------------------
    @staticmethod
    def tool(name: str, **arguments: Any) -> Turn:
        return Turn(tool_calls=((name, arguments),))

    @staticmethod
    def tools(*calls: tuple[str, dict[str, Any]]) -> Turn:
        return Turn(tool_calls=tuple(calls))

    @staticmethod
    def text(text: str) -> Turn:
        return Turn(text=text)

    def script(self, directory: str, turns: list[Turn]) -> None:
        with self._lock:
            self._directories[str(directory)] = _Directory(turns=list(turns))

    def script_follow_up(self, directory: str, marker: str, turns: list[Turn]) -> None:
        with self._lock:
            self._directories.setdefault(str(directory), _Directory()).follow_ups[marker] = list(turns)

    def set_mode(self, directory: str, mode: str) -> None:
        assert mode in ("script", "fail", "hang", "drop", "stall"), mode
        with self._lock:
            self._directories.setdefault(str(directory), _Directory()).mode = mode

    def set_delay(self, directory: str, seconds: float) -> None:
        with self._lock:
            self._directories.setdefault(str(directory), _Directory()).delay = seconds

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeModelServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fake-model", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> "FakeModelServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def opencode_config(self, **extra: Any) -> dict[str, Any]:
        """An opencode.json (for OPENCODE_CONFIG_CONTENT) whose only provider is this server."""
        config: dict[str, Any] = {
            "$schema": "https://opencode.ai/config.json",
            "provider": {"fake": {
                "npm": "@ai-sdk/openai-compatible", "name": "Fake",
                "options": {"baseURL": self.base_url, "apiKey": "x"},
                "models": {MODEL_ID: {"name": MODEL_ID, "tool_call": True,
                                      "limit": {"context": 128000, "output": 4096}}}}},
            "model": f"fake/{MODEL_ID}", "small_model": f"fake/{MODEL_ID}",
            "enabled_providers": ["fake"], "autoupdate": False, "share": "disabled",
            "permission": {"edit": "allow", "bash": "allow", "webfetch": "deny", "question": "deny"},
        }
        config.update(extra)
        return config

    # -- answering -----------------------------------------------------------------------
    def _plan(self, body: dict[str, Any]) -> tuple[str, Turn | None]:
        """(mode, turn) for one chat completion request."""
        messages = body.get("messages", [])
        if not body.get("tools"):
            return "script", Turn(text="Scripted task")
        directory = _working_directory(messages)
        step = _assistant_messages_since_last_user(messages)
        with self._lock:
            entry = self._directories.get(directory or "")
            if entry is None:
                return "script", Turn(text="Nothing scripted for this directory.")
            if entry.mode != "script":
                return entry.mode, None
            last_user = _last_user_text(messages)
            turns = next((turns for marker, turns in entry.follow_ups.items() if marker in last_user),
                         entry.turns)
            if step < len(turns):
                return "script", turns[step]
            return "script", Turn(text="Done.")


    def _delay(self, body: dict[str, Any]) -> float:
        """Seconds to wait before answering this request (`set_delay`)."""
        with self._lock:
            entry = self._directories.get(_working_directory(body.get("messages", [])) or "")
            return entry.delay if entry is not None and body.get("tools") else 0.0


def _working_directory(messages: list[dict[str, Any]]) -> str | None:
    for message in messages:
        if message.get("role") != "system":
            continue
        found = _WORKDIR.search(_content_text(message.get("content")))
        if found:
            return found.group("path")
    return None


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _assistant_messages_since_last_user(messages: list[dict[str, Any]]) -> int:
    count = 0
    for message in reversed(messages):
        role = message.get("role")
        if role == "user":
            break
        if role == "assistant":
            count += 1
    return count


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                            "created": 1700000000, "model": MODEL_ID,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


def _stream(turn: Turn) -> list[bytes]:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    if turn.tool_calls:
        calls = [{"index": index, "id": f"call_{index}", "type": "function",
                  "function": {"name": name, "arguments": json.dumps(arguments)}}
                 for index, (name, arguments) in enumerate(turn.tool_calls)]
        chunks.append(_chunk({"tool_calls": calls}))
        finish = "tool_calls"
    else:
        chunks.append(_chunk({"content": turn.text}))
        finish = "stop"
    chunks.append(_chunk({}, finish, usage={"prompt_tokens": 100, "completion_tokens": 20,
                                            "total_tokens": 120}))
    chunks.append(b"data: [DONE]\n\n")
    return chunks


class _Handler(BaseHTTPRequestHandler):
    owner: FakeModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "fake"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"error": {"message": "bad json"}})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": "not found"}})
            return
        self.owner.requests.append(body)
        mode, turn = self.owner._plan(body)
        if mode == "fail":
            self._json(400, {"error": {"message": "scripted failure", "type": "invalid_request_error"}})
            return
        if mode == "drop":
            self.close_connection = True
            return
        if mode == "hang":
            while not self.owner._stopping.wait(0.2):
                pass
            self.close_connection = True
            return
        if self.owner._stopping.wait(self.owner._delay(body)):
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        if mode == "stall":  # the start of a reply, then silence (a model stuck mid-stream)
            self.wfile.write(_chunk({"role": "assistant", "content": ""}) + _chunk({"content": "Let me look"}))
            self.wfile.flush()
            while not self.owner._stopping.wait(0.2):
                pass
            self.close_connection = True
            return
        assert turn is not None
        for chunk in _stream(turn):
            self.wfile.write(chunk)
            self.wfile.flush()
            time.sleep(0.005)
        self.close_connection = True
