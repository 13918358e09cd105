"""What a person asks of the engine, as typed requests (never a command name as a string).

"Attributes down, messages up": a screen posts `ToEngine(request)` to the app (`ask_engine`);
the app queues the requests in the order they came and runs each in one worker with
`request.send_to(engine)`, the one `EngineCommands` call it stands for. So a type checker
sees every command a front end sends, with its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.message import Message
from textual.message_pump import MessagePump

from orch_tui.orchestration.commands import EngineCommands, HunkChoice, ManagedEngine
from orch_tui.orchestration.events import InputAnswer
from orch_tui.orchestration.lane_check import CheckAnswer


@dataclass(frozen=True)
class EngineRequest:
    """One engine command with its arguments."""

    name: ClassVar[str]
    """The engine command it calls; a failure is reported as `<name> failed: <why>`."""

    async def send_to(self, engine: EngineCommands) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class StartEngine(EngineRequest):
    """Only for an engine the app manages (`OrchApp(manage_engine=True)`)."""

    engine: ManagedEngine
    name: ClassVar[str] = "start"

    async def send_to(self, engine: EngineCommands) -> None:
        await self.engine.start()


@dataclass(frozen=True)
class Propose(EngineRequest):
    name: ClassVar[str] = "propose"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.propose()


@dataclass(frozen=True)
class Approve(EngineRequest):
    name: ClassVar[str] = "approve"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.approve()


@dataclass(frozen=True)
class Reject(EngineRequest):
    reason: str
    name: ClassVar[str] = "reject"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.reject(self.reason)


@dataclass(frozen=True)
class DropTask(EngineRequest):
    task_id: str
    name: ClassVar[str] = "drop_task"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.drop_task(self.task_id)


@dataclass(frozen=True)
class SwapTask(EngineRequest):
    task_id: str
    name: ClassVar[str] = "swap_task"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.swap_task(self.task_id)


@dataclass(frozen=True)
class SetBatchSize(EngineRequest):
    size: int
    name: ClassVar[str] = "set_batch_size"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.set_batch_size(self.size)


@dataclass(frozen=True)
class AbortLane(EngineRequest):
    lane: int
    name: ClassVar[str] = "abort_lane"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.abort_lane(self.lane)


@dataclass(frozen=True)
class RetryTask(EngineRequest):
    task_id: str
    name: ClassVar[str] = "retry_task"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.retry_task(self.task_id)


@dataclass(frozen=True)
class ResolveHunk(EngineRequest):
    path: str
    hunk: int
    choice: HunkChoice
    name: ClassVar[str] = "resolve_hunk"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.resolve_hunk(self.path, self.hunk, self.choice)


@dataclass(frozen=True)
class ResolveFile(EngineRequest):
    path: str
    choice: HunkChoice
    name: ClassVar[str] = "resolve_file"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.resolve_file(self.path, self.choice)


@dataclass(frozen=True)
class WriteResolution(EngineRequest):
    path: str
    content: str
    name: ClassVar[str] = "write_resolution"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.write_resolution(self.path, self.content)


@dataclass(frozen=True)
class ContinueMerge(EngineRequest):
    name: ClassVar[str] = "continue_merge"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.continue_merge()


@dataclass(frozen=True)
class AbortMerge(EngineRequest):
    name: ClassVar[str] = "abort_merge"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.abort_merge()


@dataclass(frozen=True)
class Pause(EngineRequest):
    name: ClassVar[str] = "pause"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.pause()


@dataclass(frozen=True)
class AnswerInput(EngineRequest):
    lane: int
    request_id: str
    answer: InputAnswer
    name: ClassVar[str] = "answer_input"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.answer_input(self.lane, self.request_id, self.answer)


@dataclass(frozen=True)
class FollowUp(EngineRequest):
    lane: int
    text: str
    name: ClassVar[str] = "follow_up"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.follow_up(self.lane, self.text)


@dataclass(frozen=True)
class AnswerCheck(EngineRequest):
    task_id: str
    answer: CheckAnswer
    name: ClassVar[str] = "answer_check"

    async def send_to(self, engine: EngineCommands) -> None:
        await engine.answer_check(self.task_id, self.answer)


class ToEngine(Message):
    """A screen's request for the engine, on its way to the app's command queue."""

    def __init__(self, request: EngineRequest) -> None:
        super().__init__()
        self.request = request


def ask_engine(node: MessagePump, request: EngineRequest) -> None:
    """Post `request` to the app. Straight to the app, not bubbling through the screen: a
    screen that dismisses itself right after asking still has its request delivered, and
    requests reach the queue in the order they were asked."""
    node.app.post_message(ToEngine(request))
