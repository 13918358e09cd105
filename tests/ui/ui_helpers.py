"""Helpers for the UI tests: the app over the scenario engine, waiting, reading the screen."""

from __future__ import annotations

import time
from typing import Callable

from textual.app import App
from textual.pilot import Pilot

from orch_tui.app.app import OrchApp
from tests.ui.scenario_engine import ScenarioEngine


def make_app(engine: ScenarioEngine, theme: str = "textual-dark", **options) -> OrchApp:
    """The real app over the scenario engine, with the scenario's frozen clock."""
    return OrchApp(engine, clock=engine.clock, theme=theme, **options)


async def settle(pilot: Pilot) -> None:
    """Let queued engine commands run and their events reach the screen."""
    app: OrchApp = pilot.app  # type: ignore[assignment]
    for _ in range(3):
        await app.commands_done()
        await pilot.pause()


async def wait_for(pilot: Pilot, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{_what_was_shown(pilot.app)}")
        await pilot.pause(0.02)


def _what_was_shown(app: App) -> str:
    """The screens stacked and the top one's text, for a failure to say where the app stood."""
    stack = " > ".join(type(screen).__name__ for screen in app.screen_stack)
    text = "\n".join(line.rstrip() for line in screen_text(app).splitlines())
    return f"screens: {stack}\n{text}"


def screen_text(app: App) -> str:
    """What the terminal shows, as plain text (one line per row)."""
    return "\n".join("".join(segment.text for segment in strip)
                     for strip in app.screen._compositor.render_strips())
