"""`orch-tui demo` end to end: the real engine, scripted agents, the real keys.

The demo repository is built as `orch-tui demo` builds it, the engine as the demo wires it
(scripted agents; Agent Mail is pointed at a closed port, as on a fresh machine, so the lanes
reserve their files in the local ledger and run in parallel). The person presses `p`, `a` on
the approval gate, resolves the CHANGELOG.md conflict with `b` and `c`, and the first batch
ends merged on main.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from orch_tui.app.app import OrchApp
from orch_tui.app.demo_repo import create_demo_repo
from orch_tui.app.screens.approval import ApprovalScreen
from orch_tui.app.screens.check_hold import CheckHoldScreen
from orch_tui.app.screens.conflict import ConflictScreen
from orch_tui.app.screens.dashboard import DashboardScreen
from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.engine.wiring import build_engine, effective_config
from orch_tui.widgets.merge_queue import MergeQueueTable
from orch_tui.widgets.status_banner import StatusBanner
from tests.support.agent_mail_server import free_port
from tests.ui.ui_helpers import screen_text, wait_for

FIRST_BATCH = ("shop-2", "shop-3", "shop-4", "shop-5")
"""P1 shop-2 and shop-3 (both also append to CHANGELOG.md), then P2 shop-4 and shop-5."""
AGENT_SPEED = 0.2
"""The demo's scripted agents take 4-8 s a task; a fifth of that keeps the test short and
still leaves half a second between two edits, for the live diff to see the stray one."""
DEADLINE = 60.0


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _tracker(repo: Path) -> dict[str, dict]:
    lines = (repo / ".beads/issues.jsonl").read_text().splitlines()
    return {record["id"]: record for record in map(json.loads, filter(None, lines))}


class _Watched:
    """Waits for the screen to reach a state; a timeout also says where the engine stood (its
    state and last events), so a failure seen once in CI can be read without a rerun."""

    def __init__(self, pilot, engine, seen: list[ev.Event]) -> None:
        self.pilot, self.engine, self.seen = pilot, engine, seen

    async def until(self, condition, what: str) -> None:
        try:
            await wait_for(self.pilot, condition, what, DEADLINE)
        except AssertionError as timeout:
            last = "\n".join(f"  {event!r}"[:300] for event in self.seen[-25:])
            raise AssertionError(f"{timeout}\nengine: {self.engine.state}\nlast events:\n{last}") from None


async def _merge_anyway(watch: _Watched, app: OrchApp) -> None:
    screen = app.screen
    assert isinstance(screen, CheckHoldScreen) and screen.held.task_id == "shop-5"
    await watch.until(lambda: "still raises NotImplementedError" in screen_text(app),
                      "the check's output on the held-merge screen")
    await watch.pilot.press("M")
    await watch.until(lambda: app.mirror.snapshot.held is None, "the answer to reach the engine")


@pytest.mark.slow  # about 8 s: real git, real worktrees, five merges
async def test_the_demo_reaches_a_merged_state(tmp_path: Path) -> None:
    repo = create_demo_repo(tmp_path / "bookshop")
    config = effective_config(repo, agent="scripted", agent_mail_url=f"http://127.0.0.1:{free_port()}/mcp/")
    engine = build_engine(repo, config)
    engine.parts.runner.speed = AGENT_SPEED
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    app = OrchApp(engine, manage_engine=True)
    async with app.run_test(size=(160, 48)) as pilot:
        watch = _Watched(pilot, engine, seen)
        # No Agent Mail: the banner says calmly that reservations are local, and lanes run at once.
        await watch.until(lambda: "local reservations: other agents cannot see them"
                          in screen_text(app).splitlines()[0], "the engine to start on the local ledger")
        banner = app.screen.query_one(StatusBanner)
        assert "SEQUENTIAL" not in screen_text(app).splitlines()[0]
        assert not banner.has_class("-error") and not banner.has_class("-warning")

        await pilot.press("p")
        await watch.until(lambda: isinstance(app.screen, ApprovalScreen), "the approval gate")
        assert tuple(choice.task_id for choice in app.screen.proposal.picked) == FIRST_BATCH
        await pilot.press("a")

        # Two stops for a person, in the order the merge queue reaches them: the held merge
        # of shop-5 (its lane check failed) and the CHANGELOG.md conflict.
        await watch.until(lambda: isinstance(app.screen, (ConflictScreen, CheckHoldScreen)),
                          "a merge waiting for a person")
        held_first = isinstance(app.screen, CheckHoldScreen)
        if held_first:
            await _merge_anyway(watch, app)
        await watch.until(lambda: isinstance(app.screen, ConflictScreen), "the conflict screen")
        screen = app.screen
        assert isinstance(screen, ConflictScreen)
        assert [record.path for record in screen.files] == ["CHANGELOG.md"]
        assert screen.conflict.task_id in ("shop-2", "shop-3")
        await pilot.press("b")  # ours then theirs: both tasks' CHANGELOG lines are kept
        await watch.until(lambda: screen.conflict.files[0].hunks[0].resolution == "both",
                          "the engine's refreshed conflict record")
        assert "all resolved" in screen_text(app)
        await pilot.press("c")
        if not held_first:
            await watch.until(lambda: isinstance(app.screen, CheckHoldScreen), "the held merge")
            await _merge_anyway(watch, app)

        await watch.until(lambda: engine.state is EngineState.IDLE
                          and isinstance(app.screen, DashboardScreen)
                          and {m.task_id: m.state for m in app.screen.query_one(MergeQueueTable).merges}
                          == dict.fromkeys(FIRST_BATCH, "merged"),
                          "every merge of the batch")
        text = screen_text(app)
        assert text.count("merged") >= len(FIRST_BATCH)
        # The undeclared CHANGELOG.md edits were flagged (lanes keep alerts until the next batch).
        alerts = {view.task_id: view.alerts for view in app.mirror.snapshot.lanes if view.alerts}
        assert sorted(alerts) == ["shop-2", "shop-3"] and "CHANGELOG.md" in alerts["shop-2"][0]
        assert "ALERT" in text.splitlines()[0]
        # The lane checks: passed in three lanes, failed in shop-5's (merged anyway by the person).
        checks = app.mirror.snapshot.checks
        assert [task_id for task_id in FIRST_BATCH if not checks[task_id].passed] == ["shop-5"]
        assert "still raises NotImplementedError" in checks["shop-5"].output_tail
        assert all(view.copied == (".env",) for view in app.mirror.snapshot.lanes if view.task_id)
        graph = app.mirror.snapshot.graph  # redrawn from GraphReloaded after the batch
        assert all(graph.tasks[task_id].status == "closed" for task_id in FIRST_BATCH)
        await pilot.press("q")  # closes the engine (lock, runner, Agent Mail client)

    # Four lanes ran at once: every lane started before the first one finished, and the
    # reservation table held all four lanes' files together.
    order = [type(event).__name__ for event in seen if isinstance(event, (ev.LaneStarted, ev.LaneFinished))]
    assert order[:4] == ["LaneStarted"] * 4, order
    tables = [{(r.lane, r.path_pattern) for r in event.reservations}
              for event in seen if isinstance(event, ev.ReservationsChanged)]
    assert {(1, "bookshop/catalog.py"), (2, "bookshop/cart.py"), (3, "docs/api.md"),
            (4, "bookshop/api/orders/**")} in tables

    tracker = _tracker(repo)
    for task_id in FIRST_BATCH:
        assert tracker[task_id]["status"] == "closed", task_id
        assert "merged by orch-tui" in tracker[task_id].get("close_reason", "")
    assert tracker["shop-6"]["status"] == "open"  # unblocked by shop-2, not run yet
    log = _git(repo, "log", "--format=%s", "main")
    assert all(task_id in log for task_id in FIRST_BATCH), log
    changelog = _git(repo, "show", "main:CHANGELOG.md")
    assert "shop-2: Search the catalog by title" in changelog
    assert "shop-3: Cart totals with tax" in changelog
    assert "<<<<<<<" not in changelog
    assert "# shop-2: Search the catalog by title" in _git(repo, "show", "main:bookshop/catalog.py")
    assert "# shop-3: Cart totals with tax" in _git(repo, "show", "main:bookshop/cart.py")
    assert "## Document the API" in _git(repo, "show", "main:docs/api.md")
    assert "NotImplementedError" in _git(repo, "show", "main:bookshop/api/orders/shop_5.py")  # merged anyway
