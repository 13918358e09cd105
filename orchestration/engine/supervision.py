"""Work that runs beside the batches (the reservation monitor), supervised: if it dies, a
person hears of it and the state says so (lanes then go one at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.engine.context import EngineContext
from orch_tui.orchestration.engine.steps import describe_cause
from orch_tui.orchestration.events import Mode

HEALTH_INTERVAL_SECONDS = 2.0
"""How often the reservation monitor renews reservations and reads the others' ones."""


class BackgroundWork:
    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self.tasks: list[asyncio.Task[None]] = []
        self._last_monitor_error = ""

    async def start_reservations(self, on_monitor_death: Callable[[], None]) -> None:
        """Connect the reservation backend (its mode is announced) and keep its monitor running."""
        backend = self._ctx.parts.reservations
        if backend is None:
            self._ctx.emit(ev.ModeChanged(Mode.SEQUENTIAL, "Agent Mail is not configured"))
            return
        mode = await backend.start()
        if (mode, backend.mode_reason) != (self._ctx.view.mode, self._ctx.view.mode_reason):
            self._ctx.emit(ev.ModeChanged(mode, backend.mode_reason))

        def monitor_died() -> None:
            # Without the monitor nothing renews reservations or reads other agents' ones.
            on_monitor_death()
            self._ctx.emit(ev.ModeChanged(Mode.SEQUENTIAL, "the reservation monitor stopped; restart orch-tui"))
        # Reservation trouble never stops the engine: the monitor says so in the log.
        self.supervise("the reservation monitor",
                       backend.run_monitor(HEALTH_INTERVAL_SECONDS, on_error=self._monitor_error),
                       on_death=monitor_died)

    def _monitor_error(self, error: Exception) -> None:
        text = f"reservations: {describe_cause(error)}"
        if text != self._last_monitor_error:  # said once, not every probe
            self._last_monitor_error = text
            self._ctx.log(text, "warning")

    def supervise(self, name: str, work: Awaitable[None], on_death: Callable[[], None] | None = None) -> None:
        """Run `work` in the background; if it dies, a person hears of it and the state says so."""
        task = asyncio.ensure_future(work)
        self.tasks.append(task)

        def reported(done: asyncio.Task[None]) -> None:
            error = None if done.cancelled() else done.exception()
            if error is None:
                return
            self._ctx.emit(ev.ErrorRaised(f"{name} stopped: {describe_cause(error)}",
                                          "restart orch-tui; the journal keeps the batch"))
            if on_death is not None:
                on_death()
        task.add_done_callback(reported)
