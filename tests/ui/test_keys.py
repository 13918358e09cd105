"""Pilot tests: press the real keys and check the commands the engine received."""

from __future__ import annotations

import threading
from pathlib import Path

from orch_tui.app.screens.approval import ApprovalScreen
from orch_tui.app.screens.confirm import ConfirmScreen
from orch_tui.app.screens.conflict import ConflictScreen
from orch_tui.app.screens.dashboard import DashboardScreen
from orch_tui.app.screens.help import HelpScreen
from orch_tui.orchestration import events as ev
from orch_tui.orchestration.events import LaneOutcome
from orch_tui.widgets.diff_view import DiffView
from orch_tui.widgets.lane import LanePanel
from orch_tui.widgets.task_graph import TaskGraphView
from tests.ui.scenario_engine import ScenarioEngine
from tests.ui.ui_helpers import make_app, screen_text, settle, wait_for

SMALL = (100, 30)


async def test_p_proposes_and_the_approval_gate_opens(engine: ScenarioEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("p")
        await settle(pilot)
        assert engine.calls == [("propose",)]
        assert isinstance(app.screen, ApprovalScreen)
        assert "orch-c1" in screen_text(app)


async def test_a_approves_and_nothing_is_dispatched_before(engine: ScenarioEngine) -> None:
    engine.propose_now()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ApprovalScreen)
        assert engine.calls == []
        await pilot.press("a")
        await settle(pilot)
        assert engine.calls == [("approve",)]
        assert isinstance(app.screen, DashboardScreen)


async def test_x_drops_and_s_swaps_the_selected_task(engine: ScenarioEngine) -> None:
    first = engine.propose_now().picked
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("down", "x")
        await settle(pilot)
        assert engine.calls == [("drop_task", first[1].task_id)]
        screen = app.screen
        assert isinstance(screen, ApprovalScreen)
        picked = [c.task_id for c in screen.proposal.picked]
        assert first[1].task_id not in picked
        selected = screen.selected_task()
        await pilot.press("s")
        await settle(pilot)
        assert engine.calls[-1] == ("swap_task", selected)
        assert selected not in [c.task_id for c in app.screen.proposal.picked]


async def test_plus_minus_change_the_batch_size_and_r_rejects(engine: ScenarioEngine) -> None:
    engine.propose_now()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("plus")
        await settle(pilot)
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert engine.calls == [("set_batch_size", 5), ("set_batch_size", 4), ("set_batch_size", 3)]
        assert "3 of 3 lanes" in screen_text(app)
        await pilot.press("r")
        await settle(pilot)
        assert engine.calls[-1][0] == "reject"
        assert isinstance(app.screen, DashboardScreen)


async def _conflict_app(engine: ScenarioEngine, pilot_size=SMALL, **options):
    engine.run_lanes()
    engine.conflict(options.pop("worktree", None))
    return make_app(engine, **options)


async def test_resolve_ours_theirs_both_then_continue(engine: ScenarioEngine) -> None:
    app = await _conflict_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ConflictScreen)
        await pilot.press("c")  # refused: nothing resolved yet
        await settle(pilot)
        assert ("continue_merge",) not in engine.calls
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("t")  # the cursor moved on to the second hunk
        await settle(pilot)
        await pilot.press("down")  # next file
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert engine.calls == [
            ("resolve_hunk", "src/config/loader.py", 0, "ours"),
            ("resolve_hunk", "src/config/loader.py", 1, "theirs"),
            ("resolve_hunk", "CHANGELOG.md", 0, "both"),
        ]
        assert "all resolved" in screen_text(app)
        await pilot.press("c")
        await settle(pilot)
        assert engine.calls[-1] == ("continue_merge",)
        assert isinstance(app.screen, DashboardScreen)


async def test_whole_file_choices_and_abort(engine: ScenarioEngine) -> None:
    app = await _conflict_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        assert engine.calls == [("resolve_file", "src/config/loader.py", "theirs")]
        await pilot.press("c")  # CHANGELOG.md is still in conflict
        await settle(pilot)
        assert ("continue_merge",) not in engine.calls
        await pilot.press("A")
        await settle(pilot)
        assert engine.calls[-1] == ("abort_merge",)
        assert isinstance(app.screen, DashboardScreen)


async def test_e_opens_the_editor_and_writes_the_result(engine: ScenarioEngine, tmp_path: Path) -> None:
    target = tmp_path / "src/config/loader.py"
    target.parent.mkdir(parents=True)
    target.write_text("<<<<<<< ours\nimport yaml\n=======\nimport tomllib\n>>>>>>> theirs\n")
    seen: list[list[str]] = []

    def editor(argv: list[str]) -> int:
        seen.append(argv)
        Path(argv[-1]).write_text("import tomllib\n")
        return 0

    app = await _conflict_app(engine, worktree=tmp_path, editor=editor)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert seen and seen[0][-1] == str(target.resolve())
        assert engine.calls == [("write_resolution", "src/config/loader.py", "import tomllib\n")]


async def test_help_lists_the_keys_of_the_screen(engine: ScenarioEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Ask the planner for the next batch" in text and "ctrl+p" in text
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_every_key_is_in_the_command_palette(engine: ScenarioEngine) -> None:
    engine.propose_now()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for action in ("Approve", "Drop task", "Swap task", "Reject", "Batch +", "Quit", "Help"):
            assert any(title.startswith(action) for title in titles), action
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Propose (p)", "Abort (k)", "Retry (R)", "Pause (P)"):
            assert title in titles, title


async def test_events_from_another_thread_reach_the_lanes(engine: ScenarioEngine) -> None:
    engine.run_lanes()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        thread = threading.Thread(target=engine.emit, args=(ev.LaneProgress(1, "orch-c1", "busy", "from a thread"),))
        thread.start()
        await wait_for(pilot, lambda: not thread.is_alive(), "the engine thread")
        await settle(pilot)
        lane = next(panel for panel in app.screen.query(LanePanel) if panel.lane == 1)
        assert lane.view.action == "from a thread"
        assert "from a" in screen_text(app)


async def test_untrusted_text_renders_literally(engine: ScenarioEngine) -> None:
    engine.run_lanes()
    engine.emit(ev.LaneProgress(2, "orch-a1", "busy", "[bold red]boom[/] \x1b[2J\x1b]0;title\x07" + "z" * 5000))
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("f")  # status filter: ready, so the hostile title is listed
        await settle(pilot)
        text = screen_text(app)
        assert "[red]not red[/red]" in text
        assert "[bold red]boom[/]" in text
        assert "[bold]markup stays literal[/bold]" in text
        assert "\x1b" not in text and "]0;title" not in text
        assert max(len(line) for line in text.splitlines()) <= 160


async def test_sequential_mode_and_alerts_show_in_the_banner(engine: ScenarioEngine) -> None:
    engine.run_lanes()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        engine.sequential_mode()
        engine.alert(lane=2)
        await settle(pilot)
        first_line = screen_text(app).splitlines()[0]
        assert "SEQUENTIAL MODE" in first_line and "ALERT" in first_line


def _notices(app) -> list[str]:
    """The notifications shown (toasts)."""
    return [notice.message for notice in app._notifications]


def _log_text(app) -> str:
    """Every line of the dashboard's log, scrolled out of sight or not."""
    return "\n".join(strip.text for strip in app.screen.query_one("#log").lines)


def _panel(app, lane: int) -> LanePanel:
    return next(panel for panel in app.screen.query(LanePanel) if panel.lane == lane)


async def test_k_asks_then_aborts_the_lane_of_the_selected_task(engine: ScenarioEngine) -> None:
    engine.run_lanes()  # lane 1 runs orch-c1, the task the tree selects first
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert app.screen.query_one(TaskGraphView).selected_task_id() == "orch-c1"
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "lane 1: orch-c1" in screen_text(app) and "Nothing is lost" in screen_text(app)
        await pilot.press("n")  # changed my mind: nothing reaches the engine
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen) and engine.calls == []
        await pilot.press("k", "y")
        await settle(pilot)
        assert engine.calls == [("abort_lane", 1)]
        assert _panel(app, 1).view.outcome == "aborted"
        text = screen_text(app)
        assert "FAILED: lane 1 orch-c1" in text.splitlines()[0]  # the banner counts aborted lanes
        assert "lane 1: orch-c1 aborted: aborted by a person" in text


async def test_k_aborts_the_focused_lane(engine: ScenarioEngine) -> None:
    engine.run_lanes()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        _panel(app, 3).query_one(DiffView).focus()  # as tab would: the lane's diff has focus
        await pilot.press("k")
        await settle(pilot)
        assert "lane 3: orch-u1" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert engine.calls == [("abort_lane", 3)]
        assert _panel(app, 3).view.outcome == "aborted"
        assert _panel(app, 1).view.outcome is None


async def test_k_without_a_running_lane_says_so(engine: ScenarioEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert "No running lane." in _notices(app)
        assert engine.calls == []


async def test_R_retries_the_failed_task_and_the_next_proposal_starts_with_it(engine: ScenarioEngine) -> None:
    engine.run_lanes()
    engine.fail(2, LaneOutcome.FAILED, "tests do not pass")  # lane 2: orch-a1
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("R")  # the tree selects orch-c1 (running): the one failed lane is meant
        await settle(pilot)
        assert engine.calls == [("retry_task", "orch-a1")]
        assert "orch-a1 will be proposed first in the next batch: press p to propose it." in _notices(app)
        assert "orch-a1 will be proposed first in the next batch" in _log_text(app)
        for lane in (1, 3, 4):
            engine.emit(ev.LaneFinished(lane, engine.view.lanes[lane - 1].task_id or "", LaneOutcome.SUCCEEDED))
        engine.emit(ev.EngineStateChanged("idle", "batch finished"))
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalScreen)
        assert app.screen.proposal.picked[0].task_id == "orch-a1"


async def test_R_on_a_lane_that_did_not_fail_sends_nothing(engine: ScenarioEngine) -> None:
    engine.run_lanes()
    engine.fail(2)
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        _panel(app, 1).query_one(DiffView).focus()
        await pilot.press("R")
        await settle(pilot)
        assert engine.calls == []
        assert "Lane 1 has no failed task." in _notices(app)


async def test_the_conflict_screen_follows_conflict_events(engine: ScenarioEngine) -> None:
    app = await _conflict_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConflictScreen)
        record = engine.snapshot().conflict
        assert "2 files unresolved" in screen_text(app)
        fresh = _resolved_copy(record, "CHANGELOG.md")  # e.g. resolved from another front end
        engine.emit(ev.ConflictChanged(fresh))
        await settle(pilot)
        assert screen.conflict is fresh
        assert "1 file unresolved" in screen_text(app)
        engine.emit(ev.ConflictChanged(None))
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert "merge conflict waits" not in screen_text(app).splitlines()[0]


def _resolved_copy(record, path: str):
    import copy

    fresh = copy.deepcopy(record)
    for item in fresh.files:
        if item.path == path:
            item.resolution = "ours"
    return fresh


async def test_graph_reloaded_redraws_the_tree_and_keeps_the_selection(engine: ScenarioEngine) -> None:
    from msgspec.structs import replace  # Task is a msgspec Struct

    from orch_tui.orchestration.model import TaskGraph

    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")  # orch-c1, orch-api, then orch-c2
        await settle(pilot)
        graph_view = app.screen.query_one(TaskGraphView)
        chosen = graph_view.selected_task_id()
        assert chosen == "orch-c2"
        graph = engine.view.graph
        closed = TaskGraph({**graph.tasks, "orch-c1": replace(graph.tasks["orch-c1"], status="closed")},
                           source=graph.source)
        engine.emit(ev.GraphReloaded(closed))
        await settle(pilot)
        assert graph_view.index is not None and graph_view.index.graph is closed
        assert graph_view.selected_task_id() == chosen
        text = screen_text(app)
        assert "12 tasks · 8 ready · 1 blocked" in text  # orch-m1 is ready now
        assert "✓ orch-c1" in text


# ----- a merge held by a failed lane check ---------------------------------------------------------
def _held_engine(engine: ScenarioEngine) -> ScenarioEngine:
    engine.run_lanes()
    engine.prepare_lanes()
    engine.check_lane(1, passed=True)
    engine.check_lane(2, passed=False)
    engine.queue_merges()
    engine.hold_for_check(2)
    return engine


async def test_a_held_merge_opens_its_screen_and_each_key_answers(engine: ScenarioEngine) -> None:
    from orch_tui.app.screens.check_hold import CheckHoldScreen

    held = _held_engine(engine).view.held
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CheckHoldScreen)
        text = screen_text(app)
        assert "lane check failed" in text and "assert 'status' in {'ok': True}" in text
        await pilot.press("escape")  # back to the dashboard: the merge keeps waiting
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert "lane check of orch-a1 failed" in screen_text(app).splitlines()[0]
        assert ":42010-42019" in screen_text(app)  # the lane's ports in its header
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, CheckHoldScreen)
        await pilot.press("r")
        await settle(pilot)
        assert engine.calls[-1] == ("answer_check", held.task_id, "retry")
        assert isinstance(app.screen, DashboardScreen)
        assert "retry: not merged" in screen_text(app)


async def test_merge_anyway_and_drop_keys(engine: ScenarioEngine) -> None:
    held = _held_engine(engine).view.held
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("m")  # m opens the screen on the dashboard: here it must not merge
        await settle(pilot)
        assert not [call for call in engine.calls if call[0] == "answer_check"]
        await pilot.press("M")
        await settle(pilot)
    assert engine.calls[-1] == ("answer_check", held.task_id, "merge")
    other = ScenarioEngine()
    _held_engine(other)
    app = make_app(other)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
    assert other.calls[-1] == ("answer_check", held.task_id, "drop")


async def test_the_banner_shows_the_pool_disk_use(engine: ScenarioEngine) -> None:
    measured = threading.Event()

    def usage() -> int:
        measured.set()
        assert threading.current_thread() is not threading.main_thread()  # off the event loop
        return 3 * 1024 ** 3

    app = make_app(engine, pool_usage=usage)
    async with app.run_test(size=SMALL) as pilot:
        await wait_for(pilot, lambda: "pool 3.0 GB" in screen_text(app).splitlines()[0], "the pool's disk use")
    assert measured.is_set()
async def test_failing_doctor_rows_show_once_at_start(engine: ScenarioEngine, tmp_path: Path) -> None:
    from functools import partial

    from orch_tui.orchestration.setup.doctor import run_checks
    from tests.support.helpers import make_repo

    untracked = make_repo(tmp_path / "no-tracker")  # a real repository without a Beads tracker
    app = make_app(engine, startup_checks=partial(run_checks, untracked, agent="scripted",
                                                  agent_mail_url="http://127.0.0.1:9/mcp/",
                                                  start_server=False))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app._notifications, "the doctor's notification")
        [note] = list(app._notifications)
        assert note.severity == "error" and "doctor: beads: no Beads tracker" in note.message
        assert "doctor: beads: no Beads tracker" in screen_text(app)  # also in the log
        assert "agent mail" not in screen_text(app)  # a warning: only `orch-tui doctor` shows it



async def test_a_stop_answered_elsewhere_closes_its_own_screen_not_the_one_on_top(engine: ScenarioEngine) -> None:
    """The conflict is aborted from chat (Sisyphus, `orch-tui` commands) while the person
    reads the help over its screen: the conflict screen and the help opened over it both
    close. Textual's `dismiss` pops the top screen, whichever it is: the help closed, and
    the aborted conflict's screen stayed up, its keys asking about a merge gone."""
    engine.conflict()
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ConflictScreen)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await engine.abort_merge()  # as the chat's command does
        await settle(pilot)
        assert [type(screen) for screen in app.screen_stack[1:]] == [DashboardScreen]
        engine.conflict()
        await settle(pilot)
        assert isinstance(app.screen, ConflictScreen)  # the next stop shows at once


async def test_a_stop_opened_over_a_closed_one_is_shown_again(engine: ScenarioEngine) -> None:
    """A batch proposed from chat opens its gate over the conflict screen; the conflict is
    then aborted from chat: the gate, closed with it, opens again."""
    engine.conflict()
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await engine.propose()
        await settle(pilot)
        assert isinstance(app.screen, ApprovalScreen)
        await engine.abort_merge()
        await settle(pilot)
        assert [type(screen) for screen in app.screen_stack[1:]] == [DashboardScreen, ApprovalScreen]
