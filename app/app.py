"""OrchApp: the dashboard over an engine that speaks `EngineCommands`.

The engine's events reach the app through `subscribe`; the sink may run on the app's loop
or on another thread and only posts a message. Commands go to the engine one at a time, in
the order the person gave them, from a worker, so the event loop never waits on the engine.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import time
from functools import partial
from typing import Any, Awaitable, Callable, Iterable, Sequence

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from orch_tui.orchestration.commands import EngineCommands, EngineState, ManagedEngine
from orch_tui.orchestration import events as ev
from orch_tui.orchestration.setup.doctor import Check, Status
from orch_tui.orchestration.events import Event, LaneFinished, LaneInputAnswered, LaneNeedsInput

from orch_tui.app.attention import osc9, osc9_supported

from orch_tui.app.engine_mirror import Changes, EngineMirror, copy_snapshot
from orch_tui.app.full_collections import CHECK_SECONDS, FullCollections
from orch_tui.app.strip_cycles import keep_strips_acyclic
from orch_tui.app.engine_requests import EngineRequest, StartEngine, ToEngine
from orch_tui.app.messages import CommandFailed, EngineEvent, EngineStarted, RequestsQueued
from orch_tui.app.screens.approval import ApprovalScreen
from orch_tui.app.screens.check_hold import CheckHoldScreen
from orch_tui.app.screens.conflict import ConflictScreen
from orch_tui.app.screens.dashboard import DashboardScreen
from orch_tui.app.screens.help import HelpScreen
from orch_tui.app.screens.input_request import InputRequestScreen
from orch_tui.app.screens.lane_detail import LaneDetailScreen

THEMES = ("textual-dark", "textual-light")
POOL_USAGE_SECONDS = 60.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class OrchApp(App[None]):
    TITLE = "orch-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Leave orch-tui (the engine stops with it)"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Theme", tooltip="Switch between dark and light"),
    ]

    def __init__(self, engine: EngineCommands, *, clock: Callable[[], float] = time.time,
                 theme: str = "textual-dark", editor: Callable[[list[str]], int] | None = None,
                 manage_engine: bool = False,
                 startup_checks: Callable[[], Awaitable[Sequence[Check]]] | None = None,
                 input_alert: str = "notify",
                 pool_usage: Callable[[], int] | None = None) -> None:
        super().__init__()
        keep_strips_acyclic()
        self.input_alert = input_alert
        """notify (bell + OSC 9 where supported), bell or off: when a lane starts waiting."""
        self.pool_usage = pool_usage
        """Bytes the lane pool takes on disk (blocking; run in a thread); None hides it."""
        self.engine = engine
        self.manage_engine = manage_engine
        """Start the engine after the first frame and close it on quit (`orch-tui` does)."""
        self.managed: ManagedEngine | None = engine if manage_engine and isinstance(engine, ManagedEngine) else None
        if manage_engine and self.managed is None:
            raise TypeError(f"{type(engine).__name__} has no start()/close(): the app cannot manage it")
        self.clock = clock
        self.theme = theme
        self.run_editor = editor
        """Runs `$EDITOR` argv while the app is suspended; tests pass their own."""
        self.startup_checks = startup_checks
        """`orch-tui doctor`'s rows, run once at start: the failing ones are shown."""
        self.mirror = EngineMirror(copy_snapshot(engine.snapshot()), clock)
        self._commands: asyncio.Queue[EngineRequest] | None = None
        self._app_thread = threading.get_ident()
        self.stopped_by: signal.Signals | None = None
        """The signal (SIGINT, SIGTERM, SIGHUP) that made the app stop the engine and leave."""
        self.full_collections = FullCollections()
        """The collector's full collections run between frames (full_collections.py)."""
        self._unshown: Changes | None = None
        """What the events handled since the dashboard last redrew changed (`_redraw_soon`)."""

    # ----- start-up -----------------------------------------------------------------------
    def on_mount(self) -> None:
        self._app_thread = threading.get_ident()
        self._commands = asyncio.Queue()
        self._run_commands()
        self.engine.subscribe(self._event_sink)
        self.mirror = EngineMirror(copy_snapshot(self.engine.snapshot()), self.clock)
        self.dashboard = DashboardScreen()
        self.push_screen(self.dashboard)
        self.show_overlays()
        if self.managed is not None:
            self.send(StartEngine(self.managed))  # first in the queue: every later command waits for it
            self._catch_stop_signals()
        self.call_after_refresh(_freeze_startup_objects)
        self.full_collections.take_over()
        self.set_interval(CHECK_SECONDS, self.full_collections.collect_if_due, name="full collections")
        if self.pool_usage is not None:
            self.measure_pool()
            self.set_interval(POOL_USAGE_SECONDS, self.measure_pool)
        if self.startup_checks is not None:
            self._show_failing_checks()

    @work(exclusive=True, group="doctor", exit_on_error=False)
    async def _show_failing_checks(self) -> None:
        """Once at start: each failing `doctor` row in the log and as a notification."""
        assert self.startup_checks is not None
        try:
            rows = await self.startup_checks()
        except Exception as error:  # the checks guard themselves; say so if one did not
            rows = [Check("doctor", Status.FAIL, f"the checks stopped: {error}", "run orch-tui doctor")]
        for row in rows:
            if row.status is Status.FAIL:
                text = f"doctor: {row.name}: {row.detail}" + (f" (fix: {row.fix})" if row.fix else "")
                self.dashboard.log_line(text, "error")
                self.notify(text, title="orch-tui doctor", severity="error", timeout=12)

    def _catch_stop_signals(self) -> None:
        """A stop signal leaves as `q` does: agents stopped, journal saved (never killed mid-write)."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._stop_signal, signum)

    def _stop_signal(self, signum: signal.Signals) -> None:
        if self.stopped_by is None:
            self.stopped_by = signum
            self.run_worker(self.action_quit(), group="stop-signal")

    def on_unmount(self) -> None:
        self.full_collections.give_back()
        if self.manage_engine:
            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    def _event_sink(self, event: Event) -> None:
        """Called by the engine, on this loop or from another thread."""
        if threading.get_ident() == self._app_thread:
            self.post_message(EngineEvent(event))
        else:
            self.call_from_thread(self.post_message, EngineEvent(event))

    # ----- events -------------------------------------------------------------------------
    def on_engine_event(self, message: EngineEvent) -> None:
        changes = self.mirror.apply(message.event)
        self._redraw_soon(changes)
        if changes.proposal:
            self.show_proposal()
        if changes.conflict:
            self.show_conflict()
        if isinstance(message.event, (LaneNeedsInput, LaneInputAnswered, LaneFinished)):
            for screen in self.screen_stack:
                if isinstance(screen, InputRequestScreen):
                    screen.requests_changed()
        if isinstance(message.event, LaneNeedsInput):
            self.call_for_attention(message.event)
        if changes.lanes or changes.diff_lanes:
            for screen in self.screen_stack:
                if isinstance(screen, LaneDetailScreen) and screen.lane in changes.lanes | changes.diff_lanes:
                    screen.lane_changed()
        if isinstance(message.event, (ev.MergeHeldForCheck, ev.CheckHoldAnswered)):
            self.show_held()
        if isinstance(message.event, ev.EngineStateChanged) and message.event.state == EngineState.IDLE:
            self.measure_pool()

    def _redraw_soon(self, changes: Changes) -> None:
        """Events come in bursts faster than frames (six busy lanes: a diff and a progress
        line each, twenty times a second): the dashboard redraws once for the events queued
        together, from the mirror, which has folded every one of them. Log lines are written
        at once, in order."""
        for text, level in changes.log:
            self.dashboard.log_line(text, level)
        changes.log = []
        if self._unshown is not None:
            self._unshown.merge(changes)
            return
        self._unshown = changes
        self.call_later(self._redraw_now)  # behind the events already queued

    def _redraw_now(self) -> None:
        changes, self._unshown = self._unshown, None
        if changes is not None:
            self.dashboard.apply_changes(self.mirror, changes)

    def call_for_attention(self, event: LaneNeedsInput) -> None:
        """A lane started waiting for a person: the bell, and a desktop notification."""
        if self.input_alert == "off":
            return
        self.bell()
        driver = self._driver
        if self.input_alert == "notify" and driver is not None and not self.is_headless \
                and osc9_supported(os.environ):
            # Textual has no API for OSC 9; the driver writes to the terminal it owns.
            driver.write(osc9(f"orch-tui: lane {event.lane} ({event.task_id}) needs you"))

    def on_engine_started(self, message: EngineStarted) -> None:
        """The engine loaded the graph and recovered its state. Its events (GraphReloaded,
        ModeChanged, a resumed merge...) already reached the mirror, so nothing is read back
        from `engine.snapshot()`: that would fold in events still queued here a second time."""
        self.dashboard.log_summary()

    def on_command_failed(self, message: CommandFailed) -> None:
        text = f"{message.command} failed: {message.error}"
        self.dashboard.log_line(text, "error")
        self.notify(text, severity="error", timeout=8, markup=False)

    def show_overlays(self) -> None:
        if self.mirror.snapshot.proposal is not None:
            self.show_proposal()
        if self.mirror.snapshot.conflict is not None:
            self.show_conflict()
        if self.mirror.snapshot.held is not None:
            self.show_held()

    def close_screen(self, screen: Screen[Any]) -> None:
        """Close `screen` wherever it is in the stack, with the screens opened over it (help
        about a stop that is gone). Textual's `dismiss` pops the top screen, whichever it is:
        a conflict aborted from chat under the help closed the help and left the conflict.
        A stop opened over it (a batch proposed from chat) is shown again."""
        if screen not in self.screen_stack:
            return
        over = self.screen_stack[self.screen_stack.index(screen) + 1:]
        while screen in self.screen_stack:
            self.pop_screen()
        if any(isinstance(other, (ApprovalScreen, ConflictScreen, CheckHoldScreen)) for other in over):
            self.show_overlays()

    def show_held(self) -> None:
        """The merge held for a failed lane check, over the dashboard (gone once answered)."""
        held = self.mirror.snapshot.held
        screens = [s for s in self.screen_stack if isinstance(s, CheckHoldScreen)]
        if held is None:
            for screen in screens:
                self.close_screen(screen)
        elif screens:
            screens[-1].show_held(held)
        else:
            self.push_screen(CheckHoldScreen(held))

    @work(exclusive=True, group="pool-usage", exit_on_error=False)
    async def measure_pool(self) -> None:
        """Total disk use of the lane pool, measured off the event loop, for the banner."""
        if self.pool_usage is None:
            return
        try:
            self.mirror.pool_bytes = await asyncio.to_thread(self.pool_usage)
        except Exception as error:  # shown, never fatal: the banner just keeps the last figure
            self.dashboard.log_line(f"could not measure the pool's disk use: {error}", "warning")
            return
        self.dashboard.show_banner()

    def show_proposal(self) -> None:
        proposal = self.mirror.snapshot.proposal
        screens = [s for s in self.screen_stack if isinstance(s, ApprovalScreen)]
        if proposal is None:
            for screen in screens:
                self.close_screen(screen)
        elif screens:
            screens[-1].show_proposal(proposal, self.mirror.snapshot)
        else:
            self.push_screen(ApprovalScreen(proposal, self.mirror.snapshot))

    def show_conflict(self) -> None:
        conflict = self.mirror.snapshot.conflict
        screens = [s for s in self.screen_stack if isinstance(s, ConflictScreen)]
        if conflict is None:
            for screen in screens:
                self.close_screen(screen)
        elif screens:
            screens[-1].show_conflict(conflict)
        else:
            self.push_screen(ConflictScreen(conflict))

    # ----- commands to the engine ---------------------------------------------------------
    def on_to_engine(self, message: ToEngine) -> None:
        """A screen asked the engine for something (engine_requests.ask_engine)."""
        self.send(message.request)

    def send(self, request: EngineRequest) -> None:
        """Queue one engine command; it runs after the ones before it."""
        assert self._commands is not None, "the app is not running"
        self._commands.put_nowait(request)

    async def commands_done(self) -> None:
        """Wait until every command asked so far has run (tests and workers use it; never
        from a message handler of the app, which would wait for itself)."""
        if self._commands is None:
            return
        queued = RequestsQueued()
        self.post_message(queued)  # behind every ToEngine posted before: they are queued after it
        await queued.handled.wait()
        await self._commands.join()

    def on_requests_queued(self, message: RequestsQueued) -> None:
        message.handled.set()

    @work(exclusive=True, group="engine-commands", exit_on_error=False)
    async def _run_commands(self) -> None:
        assert self._commands is not None
        while True:
            request = await self._commands.get()
            try:
                await request.send_to(self.engine)
                if isinstance(request, StartEngine):
                    self.post_message(EngineStarted())
            except Exception as error:  # the person sees it; the queue goes on
                self.post_message(CommandFailed(request.name, error))
            finally:
                self._commands.task_done()

    # ----- actions ------------------------------------------------------------------------
    async def action_quit(self) -> None:
        if self.managed is not None:
            self.notify("Stopping the engine…")
            try:
                await self.managed.close()
            except Exception as error:  # leaving must never hang on a broken engine
                self.exit(return_code=1, message=f"orch-tui: stopping the engine failed: {error!r}; "
                          "agents may still run in the lane worktrees (`orch-tui status`)")
                return
        self.exit()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every key of the screen (and the app) is also in the command palette."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for namespace, binding in _bindings(screen) + _bindings(self):
            if binding.description and binding.action not in seen:
                seen.add(binding.action)
                yield SystemCommand(f"{binding.description} ({binding.key_display or binding.key})",
                                    binding.tooltip or binding.description,
                                    partial(namespace.run_action, binding.action))


def _freeze_startup_objects() -> None:
    """Move what start-up built (modules, widgets, the task graph) out of the collector's
    sight: full collections then only walk new objects, so busy lanes never pause the
    loop for a sweep of the whole heap (measured in tests/benchmarks/bench_dashboard.py).
    Only the young generations are collected first: a full collection here walked the whole
    heap (50 ms with a 10k-issue graph, far more on a busy machine) right after the first
    frame, to free some 2,000 objects of start-up garbage that now stay, once."""
    gc.collect(1)
    gc.freeze()


def _bindings(node: Any) -> list[tuple[Any, Binding]]:
    return [(node, binding) for bindings in node._bindings.key_to_bindings.values() for binding in bindings]
