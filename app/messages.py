"""Messages the app passes around: engine events arriving, commands failing, the engine started."""

from __future__ import annotations

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
