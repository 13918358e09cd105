"""Messages the app passes around: engine events arriving, commands failing, the engine started.
(A screen's request for the engine is `engine_requests.ToEngine`.)"""

from __future__ import annotations

import asyncio

from textual.message import Message

from orch_tui.orchestration.events import Event


class EngineEvent(Message):
    """One engine event, delivered on the app's thread."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class CommandFailed(Message):
    def __init__(self, command: str, error: BaseException) -> None:
        super().__init__()
        self.command = command
        self.error = error


class EngineStarted(Message):
    """`engine.start()` returned: the snapshot now holds the graph and recovered state."""


class RequestsQueued(Message):
    """Handled once every request posted to the app before it is in the command queue."""

    def __init__(self) -> None:
        super().__init__()
        self.handled = asyncio.Event()
