"""No markup or escape from task text or agent output reaches the terminal (SECURITY.md).

The real app over the scenario engine, with task titles, descriptions and agent output full
of Rich markup, ANSI/OSC escapes, C1 controls and bidirectional overrides. What the app
draws (every segment the compositor hands the terminal) holds none of those characters, no
hyperlink or style from the text, and the markup shows as the characters it was written with.
"""

from __future__ import annotations

import re

from rich.segment import Segment

from orch_tui.app.screens.approval import ApprovalScreen
from orch_tui.orchestration import events as ev
from orch_tui.orchestration.model import Task, TaskGraph
from tests.ui.scenario_engine import ScenarioEngine
from tests.ui.ui_helpers import make_app, screen_text, settle

MARKUP = "[bold red]RED[/bold red][link=https://evil.example]click[/link]"
ESCAPES = "\x1b[2J\x1b]52;c;cHduZWQ=\x07\x1b]8;;https://evil.example\x07\x9b31m\u202eevil\r\x08"
HOSTILE = f"{MARKUP} {ESCAPES} $(touch pwned)"
_RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_graph() -> TaskGraph:
    tasks = [Task("bd-1", HOSTILE, priority=0, description=f"{HOSTILE}\nFiles: src/a/**"),
             Task("bd-2", "plain neighbour", priority=1, description="Files: src/b/**")]
    return TaskGraph({task.id: task for task in tasks}, source="hostile")


def _segments(app) -> list[Segment]:
    return [segment for strip in app.screen._compositor.render_strips() for segment in strip]


def _assert_drawn_safely(app) -> None:
    segments = _segments(app)
    drawn = "".join(segment.text for segment in segments)
    raw = _RAW.search(drawn)
    assert raw is None, f"{raw.group()!r} reached the terminal"
    assert "evil.example" not in {str(segment.style.link) for segment in segments if segment.style}
    assert all(not (segment.style and segment.style.link) for segment in segments)
    assert "[bold red]RED[/bold red]" in drawn.replace("\n", "") or "[bold red]" in drawn


async def test_hostile_titles_and_agent_output_are_drawn_literally() -> None:
    engine = ScenarioEngine(hostile_graph())
    app = make_app(engine)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        _assert_drawn_safely(app)  # the task graph
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalScreen)
        _assert_drawn_safely(app)  # the approval gate lists the title and its reason
        await pilot.press("a")
        await settle(pilot)
        engine.emit(ev.LaneStarted(1, "bd-1", HOSTILE, "orch/bd-1", "/tmp/pool/lane-1"))
        engine.emit(ev.LaneProgress(1, "bd-1", "busy", action=f"agent says {HOSTILE}"))
        engine.emit(ev.LaneDiff(1, "bd-1", f"--- a/src/a/x\n+++ b/src/a/x\n@@ -0,0 +1 @@\n+{HOSTILE}\n",
                                ("src/a/x",)))
        engine.emit(ev.LaneAlert(1, "bd-1", (f"src/{ESCAPES}",), f"edited {HOSTILE}"))
        engine.emit(ev.LogLine(f"agent output: {HOSTILE}", "warning"))
        engine.emit(ev.ErrorRaised(f"lane 1: {HOSTILE}", HOSTILE))
        await settle(pilot)
        _assert_drawn_safely(app)
        assert "$(touch pwned)" in screen_text(app)


async def test_an_error_quoting_task_text_is_shown_literally() -> None:
    from orch_tui.orchestration.errors import OrchError

    engine = ScenarioEngine(hostile_graph())

    async def failing_propose() -> None:
        raise OrchError(f"cannot propose: {HOSTILE}")

    engine.propose = failing_propose  # type: ignore[method-assign]
    app = make_app(engine)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert "cannot propose" in screen_text(app)  # the log line
        _assert_drawn_safely(app)
        toasts = [note for note in app._notifications if "cannot propose" in note.message]
        assert toasts and not any(note.markup for note in toasts), "a toast reads task text as markup"
