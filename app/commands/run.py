"""`orch-tui run`: the engine headless, one progress line per event.

Exit codes: 0 when the work is done (nothing ready, --max-batches reached, or paused),
1 on failure, 2 on bad input, 3 when a merge conflict or failed check waits for a person
(open `orch-tui` to resolve it; the next `orch-tui run` resumes), 128 + the signal's number
when SIGINT, SIGTERM or SIGHUP stopped it (agents stopped, journal saved; the next run resumes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from rich.console import Console
from rich.text import Text

from orch_tui.app.event_presentation import describe, severity
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.engine.core import Engine
from orch_tui.orchestration.events import Event, InputAnswer, InputRequest, LaneNeedsInput
from orch_tui.orchestration.agents.input_policy import parse_typed_answer, policy_answer, policy_label
from orch_tui.orchestration.engine.wiring import build_engine, effective_config, resolve_repo
from orch_tui.orchestration.proposal import BatchProposal

EXIT_NEEDS_PERSON = 3
_STYLES = {"info": "", "good": "green", "warning": "yellow", "error": "bold red"}


def _console() -> Console:
    plain = not sys.stdout.isatty() or "NO_COLOR" in os.environ
    return Console(no_color=plain, highlight=False, markup=False, emoji=False,
                   force_terminal=False if plain else None, soft_wrap=True)


class ProgressPrinter:
    """Prints each event as one line; task text is shown literally, never as markup."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()

    def __call__(self, event: Event) -> None:
        line = describe(event)
        if line is None:
            return
        stamp = f"[{time.monotonic() - self.started:7.1f}s] "
        text = Text(stamp, style="dim")
        text.append(_literal(line), style=_STYLES[severity(event)])
        self.console.print(text)


def _literal(line: str) -> str:
    # Agent output and task titles may hold ANSI escapes or control characters.
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in line)


def run(args: argparse.Namespace) -> int:
    repo = resolve_repo(args.repo)
    config = effective_config(repo, agent=args.agent, agent_mail_url=args.agent_mail,
                              batch_size=args.batch_size)
    console = _console()
    engine = build_engine(repo, config)
    engine.subscribe(ProgressPrinter(console))
    return asyncio.run(_until_signal(engine, console, approve_all=args.yes, max_batches=args.max_batches,
                                     policy=config.agent_permissions))


class InputAnswerer:
    """Answers agents that ask: at a terminal the person types the answer; with no terminal
    the configured policy answers at once, so a headless run never waits on nobody."""

    def __init__(self, engine: Engine, console: Console, policy: str, *, interactive: bool) -> None:
        self.engine, self.console, self.policy, self.interactive = engine, console, policy, interactive
        self._prompt_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, event: Event) -> None:
        if isinstance(event, LaneNeedsInput):
            task = asyncio.get_running_loop().create_task(self._answer(event.lane, event.request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, lane: int, request: InputRequest) -> None:
        try:
            if self.interactive:
                async with self._prompt_lock:  # one question on the terminal at a time
                    answer = await self._ask(lane, request)
                    await self.engine.answer_input(lane, request.id, answer)
            else:
                await self.engine.answer_input(lane, request.id, policy_answer(request, self.policy),
                                               policy_label(self.policy))
        except Exception as error:  # the lane goes on waiting until its timeout: say so
            self.console.print(_literal(f"lane {lane}: could not answer {request.id}: {error}; the agent still "
                                        "waits: answer it in the dashboard (orch-tui), or the lane times out "
                                        "after agent_timeout_seconds"), style="bold red")

    async def _ask(self, lane: int, request: InputRequest) -> InputAnswer:
        choices = ("once/always/reject" if request.options == ("once", "always", "reject") else
                   " ".join(f"{n}) {option}" for n, option in enumerate(request.options, start=1))
                   + (" or type an answer" if request.typed_allowed else "") + "; reject to dismiss")
        while True:
            typed = await asyncio.to_thread(self.console.input, _literal(f"lane {lane} asks ({choices}): "))
            answer = parse_typed_answer(request, typed)
            if answer is not None:
                return answer
            self.console.print(f"not an answer; type one of: {choices}")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


async def _until_signal(engine: Engine, console: Console, *, approve_all: bool, max_batches: int | None,
                        policy: str = "reject") -> int:
    """Drive the engine; a stop signal cancels the drive, whose `finally` stops the engine."""
    loop = asyncio.get_running_loop()
    drive = asyncio.current_task()
    assert drive is not None
    caught: list[signal.Signals] = []

    def stop(signum: signal.Signals) -> None:
        if not caught:  # the first signal stops; more while stopping change nothing
            caught.append(signum)
            console.print(f"{signum.name}: stopping the agents and saving the journal ...")
            drive.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await _drive(engine, console, approve_all=approve_all, max_batches=max_batches, policy=policy)
    except asyncio.CancelledError:
        if not caught:
            raise
        drive.uncancel()
        interrupted = engine.interrupted_lanes()
        resumes = (f"{len(interrupted)} interrupted lane(s) resume" if interrupted else "it goes on")
        console.print(f"Stopped by {caught[0].name}: agents stopped, journal saved. "
                      f"Run `orch-tui run` (or open `orch-tui`) and {resumes}.")
        return 128 + caught[0].value
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


async def _drive(engine: Engine, console: Console, *, approve_all: bool, max_batches: int | None,
                 policy: str = "reject") -> int:
    engine.subscribe(InputAnswerer(engine, console, policy, interactive=sys.stdin.isatty()))
    try:
        await engine.start()
        approved = 0
        while True:
            state = await engine.wait_until_settled()
            if state is EngineState.WAITING_FOR_PERSON:
                held = engine.snapshot().held
                what = (f"The merge of {held.task_id} is held: its lane check failed" if held is not None
                        else "A merge waits for a person")
                console.print(_literal(f"{what}: open `orch-tui` in this repository to "
                                       "resolve it; then `orch-tui run` goes on."))
                return EXIT_NEEDS_PERSON
            if state is EngineState.PAUSED or (max_batches is not None and approved >= max_batches):
                return 0
            await engine.propose()
            proposal = engine.snapshot().proposal
            if proposal is None or not proposal.picked:
                console.print("Nothing is ready to run.")
                return 0
            if not approve_all:
                _show_batch(console, proposal)
            if not approve_all and not _ask(console):
                console.print("Batch not approved; nothing was dispatched.")
                await engine.reject("not approved at the prompt")
                return 0
            await engine.approve()
            approved += 1
    finally:
        await engine.close()


def _show_batch(console: Console, proposal: BatchProposal) -> None:
    for lane, choice in enumerate(proposal.picked, start=1):
        files = ", ".join(choice.files) or "no files declared"
        console.print(_literal(f"  lane {lane}: {choice.task_id} P{choice.priority} {choice.title}"))
        console.print(_literal(f"          files: {files}; why: {choice.reason}"))


def _ask(console: Console) -> bool:
    if not sys.stdin.isatty():
        console.print("Approval needed: run with --yes to approve every batch, or use the dashboard (`orch-tui`).")
        return False
    answer = console.input("Approve this batch? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
