"""Pilot tests for the lane detail screen: Enter on a lane, the whole diff, the transcript,
and a follow-up (sent, or refused with the reason)."""

from __future__ import annotations

from orch_tui.app.screens.dashboard import DashboardScreen
from orch_tui.app.screens.lane_detail import LaneDetailScreen
from orch_tui.orchestration import events as ev
from orch_tui.widgets.file_diffs import compact_diff, split_diff
from tests.ui.scenes import lane_detail
from tests.ui.ui_helpers import make_app, screen_text, settle

SMALL = (100, 30)
HOSTILE = ("diff --git a/x.py b/x.py\nindex 1..2 100644\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n"
           "-old\n+print('[red]not red[/red]') \x1b[31mplain\n"
           "diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0..1\nBinary file logo.png changed (2048 bytes)\n")


async def open_lane_one(pilot) -> None:
    await settle(pilot)
    await pilot.press("tab", "tab", "enter")  # the tree, the task card, lane 1's diff
    await settle(pilot)


async def test_enter_on_a_lane_shows_its_diff_file_by_file_and_its_transcript() -> None:
    engine = lane_detail()
    engine.emit(ev.LaneDiff(1, "orch-c1", HOSTILE, ("x.py", "logo.png")))
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await open_lane_one(pilot)
        assert isinstance(app.screen, LaneDetailScreen) and app.screen.lane == 1
        text = screen_text(app)
        assert "18k tok · $0.42" in text
        assert "x.py  +1 -1" in text and "+print('[red]not red[/red]') plain" in text
        assert "logo.png  new" in text and "Binary file logo.png changed (2048 bytes)" in text
        assert "index 1..2" not in text
        await pilot.press("t")
        await settle(pilot)
        text = screen_text(app)
        assert "⚙ edit src/api/health.py  error" in text and "Could not find oldString" in text
        assert "error: model request failed: 429 Too Many Requests" in text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_f_sends_a_follow_up_to_the_running_agent() -> None:
    engine = lane_detail()
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await open_lane_one(pilot)
        await pilot.press("f", *"also document [b]it[/b]", "enter")
        await settle(pilot)
        assert ("follow_up", 1, "also document [b]it[/b]") in engine.calls
        await pilot.pause(0.1)
        await settle(pilot)
        assert "you / orch-tui: also document [b]it[/b]" in screen_text(app)  # in the transcript


async def test_f_says_why_when_the_agent_cannot_take_a_follow_up() -> None:
    engine = lane_detail()
    engine.follow_up_refused = "the CommandRunner agent runs one prompt and exits"
    app = make_app(engine)
    async with app.run_test(size=SMALL) as pilot:
        await open_lane_one(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert not [call for call in engine.calls if call[0] == "follow_up"]
        assert "No follow-up: the CommandRunner agent runs one prompt and exits." in [
            notification.message for notification in app._notifications]


def test_split_and_compact_diffs() -> None:
    files = split_diff(HOSTILE)
    assert [(item.path, item.status, item.added, item.removed) for item in files] == [
        ("x.py", "modified", 1, 1), ("logo.png", "new", 0, 0)]
    assert compact_diff(HOSTILE).splitlines()[:2] == ["▸ x.py", "@@ -1 +1 @@"]
    assert "index" not in compact_diff(HOSTILE) and "▸ logo.png (new, binary)" in compact_diff(HOSTILE)
    truncated = "diff --git a/a b/a\n@@ -1 +1 @@\n-a\n+b\n[diff truncated: 300000 bytes in full, limit 200000]\n"
    assert split_diff(truncated)[0].lines[-1] == "[diff truncated: 300000 bytes in full, limit 200000]"
