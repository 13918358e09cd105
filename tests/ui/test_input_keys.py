"""Pilot tests for agents that ask: the banner, `n`, the request dialog answering several
lanes one after another with the real keys, the bell and the OSC 9 notification."""

from __future__ import annotations

from orch_tui.app.attention import osc9, osc9_supported
from orch_tui.app.screens.dashboard import DashboardScreen
from orch_tui.app.screens.input_request import InputRequestScreen
from orch_tui.orchestration.events import InputAnswer, Reply
from orch_tui.widgets.status_banner import StatusBanner
from tests.ui.scenario_engine import ScenarioEngine
from tests.ui.scenes import mid_batch, needs_input
from tests.ui.ui_helpers import make_app, screen_text, settle

SMALL = (100, 30)


def answers(engine: ScenarioEngine) -> list[tuple[object, ...]]:
    return [call for call in engine.calls if call[0] == "answer_input"]


async def test_n_answers_two_waiting_lanes_one_after_another() -> None:
    engine = needs_input()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert "2 lanes need you: press n" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, InputRequestScreen)
        text = screen_text(app)
        assert "lane 2 · orch-a1" in text and "run: rm -rf build/ && echo '[red]done[/red]'" in text
        assert "1 more waiting" in text and "waiting 01:12" in text
        await pilot.press("o")
        await settle(pilot)
        assert answers(engine) == [("answer_input", 2, "per_2", InputAnswer(Reply.ONCE))]
        assert isinstance(app.screen, InputRequestScreen)  # the next lane's question, same place
        assert "Keep the old [bold]config[/bold] format as a fallback?" in screen_text(app)
        await pilot.press("o")  # not an answer to a question: nothing is sent
        await pilot.press("2")
        await settle(pilot)
        assert answers(engine)[1:] == [("answer_input", 3, "que_3", InputAnswer(Reply.ANSWER, ("Drop it",)))]
        assert isinstance(app.screen, DashboardScreen)  # nothing left: the dialog closed
        assert "need you" not in str(app.screen.query_one(StatusBanner).render())
        assert "NEEDS INPUT" not in screen_text(app)


async def test_reject_then_a_typed_answer() -> None:
    engine = needs_input()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("n", "r")
        await settle(pilot)
        await pilot.press("t", *"both, [b]please[/b]", "enter")
        await settle(pilot)
        assert answers(engine) == [("answer_input", 2, "per_2", InputAnswer(Reply.REJECT)),
                                   ("answer_input", 3, "que_3", InputAnswer(Reply.ANSWER, ("both, [b]please[/b]",)))]
        assert isinstance(app.screen, DashboardScreen)


async def test_escape_closes_and_the_agents_keep_waiting() -> None:
    engine = needs_input()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("n", "escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen) and answers(engine) == []
        assert "2 lanes need you: press n" in screen_text(app)


async def test_n_is_in_the_footer_only_while_an_agent_waits() -> None:
    engine = mid_batch()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert "n Answer" not in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        engine.ask_permission(lane=1)
        await settle(pilot)
        assert "n Answer" in screen_text(app).splitlines()[-1]


async def test_a_request_arriving_while_the_dialog_is_open_is_next() -> None:
    engine = mid_batch()
    engine.ask_permission(lane=2)
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        engine.ask_question(lane=3)
        await settle(pilot)
        assert "1 more waiting" in screen_text(app)
        await pilot.press("a", "1")
        await settle(pilot)
        assert [call[1:3] for call in answers(engine)] == [(2, "per_2"), (3, "que_3")]


async def test_a_lane_that_starts_waiting_rings_the_bell_unless_turned_off() -> None:
    for setting, rings in (("notify", 1), ("bell", 1), ("off", 0)):
        engine = mid_batch()
        app = make_app(engine, input_alert=setting)
        bells: list[None] = []
        app.bell = lambda rung=bells: rung.append(None)  # type: ignore[method-assign]
        async with app.run_test(size=SMALL) as pilot:
            await settle(pilot)
            engine.ask_permission(lane=1)
            await settle(pilot)
        assert len(bells) == rings, setting


def test_osc9_only_where_the_terminal_shows_it_and_never_with_raw_text() -> None:
    assert osc9_supported({"TERM_PROGRAM": "iTerm.app"}) and osc9_supported({"WT_SESSION": "x"})
    assert not osc9_supported({"TERM": "xterm-256color"})
    assert osc9("lane 1 \x07\x1b]9;evil\x07 needs you") == "\x1b]9;lane 1 needs you\x07"
