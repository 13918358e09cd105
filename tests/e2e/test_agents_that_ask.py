"""Agents that ask: the real `opencode serve` under `"permission": {"bash": "ask"}` and the
question tool, driven through the whole engine (real git, the Beads file, merges) and
through headless `orch-tui run`.

One `opencode serve` is shared by the engine tests of this module (its close() is kept for
the end), and one isolated HOME by every test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio

from orch_tui.app.app import OrchApp
from orch_tui.app.screens.approval import ApprovalScreen
from orch_tui.app.screens.dashboard import DashboardScreen
from orch_tui.app.screens.input_request import InputRequestScreen
from orch_tui.app.screens.lane_detail import LaneDetailScreen
from orch_tui.orchestration import events as ev
from orch_tui.orchestration.agents.base import RunnerBase
from orch_tui.orchestration.agents.opencode_serve import OpenCodeServe
from orch_tui.orchestration.agents.opencode_server import OpenCodeServerRunner
from orch_tui.orchestration.tracker.beads import open_store
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.engine.core import Engine, EngineParts
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import InputAnswer, InputKind, LaneOutcome, Reply
from orch_tui.orchestration.engine.journal import Journal
from orch_tui.orchestration.lanes.live_diff import LaneDiffWatcher
from orch_tui.orchestration.merging.queue import MergeQueue
from orch_tui.orchestration.lanes.worktrees import WorktreePool
from orch_tui.widgets.diff_view import DiffView
from orch_tui.widgets.lane import LanePanel
from tests.support.fake_model_server import FakeModelServer
from tests.support.helpers import git, opencode_binary
from tests.support.opencode_server import opencode_env
from tests.support.task_repos import TaskSpec, log_subjects, make_task_repo, read_statuses
from tests.ui.ui_helpers import screen_text, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.opencode, pytest.mark.asyncio(loop_scope="module")]

ASKING = {"edit": "allow", "bash": "ask", "webfetch": "deny", "question": "allow"}


class DeafServe(OpenCodeServe):
    """`deaf` drops every event of the stream (a stream that went quiet)."""

    deaf = False

    def _dispatch(self, data: str) -> None:
        if not self.deaf or '"server.connected"' in data:
            super()._dispatch(data)


class SharedServerRunner(OpenCodeServerRunner):
    """An engine's close() stops its lanes but leaves the module's server running.
    `deaf` drops every event of the stream (a stream that went quiet)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serve = DeafServe(self.serve.binary, self.serve.env, self.serve.startup_timeout)

    @property
    def deaf(self) -> bool:
        return isinstance(self.serve, DeafServe) and self.serve.deaf

    @deaf.setter
    def deaf(self, value: bool) -> None:
        assert isinstance(self.serve, DeafServe)
        self.serve.deaf = value

    async def close(self) -> None:
        await RunnerBase.close(self)

    async def shut_down(self) -> None:
        await OpenCodeServerRunner.close(self)


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("opencode-home")


PRICE = {"input": 1000.0, "output": 2000.0}
"""Per million tokens: each scripted step (100 in, 20 out) costs $0.14."""


def asking_config(model: FakeModelServer) -> dict[str, object]:
    config = model.opencode_config(permission=ASKING)
    config["provider"]["fake"]["models"]["scripted"]["cost"] = PRICE  # type: ignore[index]
    return config


def runner_env(home: Path, model: FakeModelServer) -> dict[str, str]:
    return opencode_env(home, config=asking_config(model))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(model: FakeModelServer, home: Path) -> AsyncIterator[SharedServerRunner]:
    runner = SharedServerRunner(str(opencode_binary()), "fake/scripted", env=runner_env(home, model))
    await runner.start()
    yield runner
    await runner.shut_down()


def build(repo: Path, lanes: Path, runner: OpenCodeServerRunner, *, live_diff: bool = False,
          **changes: object) -> tuple[Engine, list[ev.Event]]:
    config = replace(Config(agent="opencode", worktree_dir=str(lanes), batch_size=2), **changes)
    parts = EngineParts(repo=repo, config=config, store=open_store(repo, prefer="jsonl"),
                        pool=WorktreePool(repo, config.batch_size, lanes), merges=MergeQueue(repo, config),
                        runner=runner, journal=Journal(repo),
                        watcher_factory=LaneDiffWatcher if live_diff else None)
    engine = Engine(parts)
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    return engine, seen


async def next_event(seen: list[ev.Event], kind: type[ev.Event], timeout: float = 60.0) -> ev.Event:
    """The first event of `kind` (waiting for it as events arrive; `timeout` only bounds a hang)."""
    async def found() -> ev.Event:
        while True:
            for event in seen:
                if isinstance(event, kind):
                    return event
            await asyncio.sleep(0.05)
    return await asyncio.wait_for(found(), timeout)


def bash_task(repo_root: Path, lanes: Path, model: FakeModelServer, task_id: str = "t-1") -> Path:
    repo = make_task_repo(repo_root, [TaskSpec(task_id, ("out.txt",), title="Write [red]out[/red]")])
    lane = Path(os.path.realpath(lanes)) / "lane-1"
    model.script(str(lane), [model.tool("bash", command="echo '[bold]hi[/bold]' > out.txt",
                                        description="write out.txt"),
                             model.text("Wrote out.txt.")])
    return repo


async def start_batch(engine: Engine) -> None:
    await engine.start()
    await engine.propose()
    await engine.approve()


async def test_a_permission_puts_the_lane_in_needs_input_and_once_lets_it_merge(
        server: SharedServerRunner, model: FakeModelServer, tmp_path: Path) -> None:
    lanes = tmp_path / "lanes"
    repo = bash_task(tmp_path / "repo", lanes, model)
    engine, seen = build(repo, lanes, server)
    try:
        await start_batch(engine)
        asked = await next_event(seen, ev.LaneNeedsInput)
        assert isinstance(asked, ev.LaneNeedsInput)
        request = asked.request
        assert (asked.lane, request.kind, request.tool) == (1, InputKind.PERMISSION, "bash")
        assert request.text == "run: echo '[bold]hi[/bold]' > out.txt"
        assert request.options == ("once", "always", "reject")
        view = engine.snapshot().lanes[0]
        assert view.status == "needs-input" and view.inputs == (request,)
        with pytest.raises(OrchError, match="not waiting on request nope"):
            await engine.answer_input(1, "nope", InputAnswer(Reply.ONCE))

        await engine.answer_input(1, request.id, InputAnswer(Reply.ONCE))
        assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
        answered = [event for event in seen if isinstance(event, ev.LaneInputAnswered)]
        assert [(event.request_id, event.answer, event.by) for event in answered] == [
            (request.id, "allowed once", "a person")]
        finished = [event for event in seen if isinstance(event, ev.LaneFinished)]
        assert [event.outcome for event in finished] == [LaneOutcome.SUCCEEDED]
        assert any(isinstance(event, ev.MergeDone) for event in seen)
        assert read_statuses(repo)["t-1"] == "closed"
        assert (repo / "out.txt").read_text() == "[bold]hi[/bold]\n"  # merged into main's checkout
        lane = engine.snapshot().lanes[0]
        assert lane.inputs == ()
        # Tokens and cost from the model server's usage: two steps of 120 tokens at $0.14.
        assert (lane.tokens, round(lane.cost, 6)) == (240, 0.28)
        summary = [event.text for event in seen if isinstance(event, ev.LogLine) and event.text.startswith("batch used")]
        assert summary == ["batch used 240 tok · $0.28 (lane 1 240 tok · $0.28)"]
    finally:
        await engine.close()


async def test_reject_ends_the_lane_with_that_reason(
        server: SharedServerRunner, model: FakeModelServer, tmp_path: Path) -> None:
    lanes = tmp_path / "lanes"
    repo = bash_task(tmp_path / "repo", lanes, model)
    engine, seen = build(repo, lanes, server, agent_stall_seconds=0.2)
    try:
        await start_batch(engine)
        asked = await next_event(seen, ev.LaneNeedsInput)
        assert isinstance(asked, ev.LaneNeedsInput)
        await asyncio.sleep(1.0)  # five stall periods of waiting for a person: not a stall
        assert not [event for event in seen[seen.index(asked):] if isinstance(event, ev.LaneStalled)]
        assert engine.snapshot().lanes[0].status == "needs-input"
        await engine.answer_input(1, asked.request.id, InputAnswer(Reply.REJECT))
        assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
        [finished] = [event for event in seen if isinstance(event, ev.LaneFinished)]
        assert finished.outcome is LaneOutcome.FAILED
        assert finished.reason == "permission rejected by a person: run: echo '[bold]hi[/bold]' > out.txt"
        assert read_statuses(repo)["t-1"] == "open"
        assert not any(isinstance(event, ev.MergeDone) for event in seen)
    finally:
        await engine.close()


async def test_a_lane_over_its_token_budget_is_stopped_and_its_work_kept(
        server: SharedServerRunner, model: FakeModelServer, tmp_path: Path) -> None:
    lanes = tmp_path / "lanes"
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("t-b", ("big.txt",))])
    lane = Path(os.path.realpath(lanes)) / "lane-1"
    model.script(str(lane), [model.tool("write", filePath=f"{lane}/big.txt", content="big\n"),
                             model.tool("write", filePath=f"{lane}/bigger.txt", content="bigger\n"),
                             model.text("Done.")])
    engine, seen = build(repo, lanes, server, max_tokens_per_task=100)
    try:
        await start_batch(engine)
        assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
        [finished] = [event for event in seen if isinstance(event, ev.LaneFinished)]
        assert finished.outcome is LaneOutcome.ABORTED
        assert finished.reason == ("stopped over its token budget: 120 tokens > max_tokens_per_task 100; "
                                   "its work is kept on its branch")
        assert git(repo, "show", "orch/t-b:big.txt") == "big"
        assert read_statuses(repo)["t-b"] == "open"
    finally:
        await engine.close()


async def test_a_follow_up_reaches_the_model_and_its_edit_lands_in_the_lane(
        server: SharedServerRunner, model: FakeModelServer, tmp_path: Path) -> None:
    lanes = tmp_path / "lanes"
    repo = bash_task(tmp_path / "repo", lanes, model)
    lane = Path(os.path.realpath(lanes)) / "lane-1"
    model.script_follow_up(str(lane), "FOLLOW-UP", [
        model.tool("write", filePath=f"{lane}/extra.txt", content="asked later\n"), model.text("Added extra.txt.")])
    engine, seen = build(repo, lanes, server, live_diff=True)
    try:
        await start_batch(engine)
        asked = await next_event(seen, ev.LaneNeedsInput)  # the lane is certainly running now
        assert isinstance(asked, ev.LaneNeedsInput)
        assert engine.follow_up_refusal(1) is None and engine.follow_up_refusal(2) == "lane 2 is not running"
        await engine.follow_up(1, "FOLLOW-UP: also write extra.txt")
        await engine.answer_input(1, asked.request.id, InputAnswer(Reply.ONCE))
        assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
        users = [message.get("content") for body in model.requests for message in body.get("messages", [])
                 if message.get("role") == "user"]
        assert any("FOLLOW-UP: also write extra.txt" in str(content) for content in users)  # the model saw it
        diffs = [event for event in seen if isinstance(event, ev.LaneDiff)]
        assert "extra.txt" in diffs[-1].files and "+asked later" in diffs[-1].diff
        assert (repo / "extra.txt").read_text() == "asked later\n"  # merged with the lane
        transcript = await engine.lane_transcript(1)
        assert [entry.text for entry in transcript if entry.kind == "user"][-1] == "FOLLOW-UP: also write extra.txt"
        assert ("tool", "bash echo '[bold]hi[/bold]' > out.txt", "completed") in [
            (entry.kind, entry.title, entry.state) for entry in transcript]
        assert ("tool", "write extra.txt", "completed") in [(entry.kind, entry.title, entry.state) for entry in transcript]
        assert engine.follow_up_refusal(1) == "lane 1 is not running"
    finally:
        await engine.close()


async def test_a_silent_event_stream_strands_no_lane(
        server: SharedServerRunner, model: FakeModelServer, tmp_path: Path) -> None:
    """No event reaches the runner: asking the server still shows the permission, and the
    finished session (with its tokens) once it is answered."""
    lanes = tmp_path / "lanes"
    repo = bash_task(tmp_path / "repo", lanes, model)
    engine, seen = build(repo, lanes, server)
    server.deaf, server.reconcile_seconds = True, 0.5
    try:
        await start_batch(engine)
        asked = await next_event(seen, ev.LaneNeedsInput)
        assert isinstance(asked, ev.LaneNeedsInput) and asked.request.text == "run: echo '[bold]hi[/bold]' > out.txt"
        await engine.answer_input(1, asked.request.id, InputAnswer(Reply.ONCE))
        assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
        [finished] = [event for event in seen if isinstance(event, ev.LaneFinished)]
        assert finished.outcome is LaneOutcome.SUCCEEDED, finished.reason
        assert (repo / "out.txt").read_text() == "[bold]hi[/bold]\n"
        assert engine.snapshot().lanes[0].tokens == 240  # each step counted once
        assert any(isinstance(event, ev.LaneProgress) and "reconciled" in event.action for event in seen)
    finally:
        server.deaf, server.reconcile_seconds = False, 15.0
        await engine.close()


async def test_a_question_is_answered_with_an_option(
        server: SharedServerRunner, model: FakeModelServer, tmp_path: Path) -> None:
    lanes = tmp_path / "lanes"
    repo = make_task_repo(tmp_path / "repo", [TaskSpec("t-q", ("colour.txt",))])
    lane = Path(os.path.realpath(lanes)) / "lane-1"
    question = {"question": "Which colour? [bold]x[/bold]", "header": "Colour",
                "options": [{"label": "Red", "description": "warm"}, {"label": "Blue", "description": "cool"}]}
    model.script(str(lane), [model.tool("question", questions=[question]),
                             model.tool("write", filePath=f"{lane}/colour.txt", content="blue\n"),
                             model.text("Wrote the colour.")])
    engine, seen = build(repo, lanes, server)
    try:
        await start_batch(engine)
        asked = await next_event(seen, ev.LaneNeedsInput)
        assert isinstance(asked, ev.LaneNeedsInput)
        request = asked.request
        assert (request.kind, request.text, request.options) == (
            InputKind.QUESTION, "Which colour? [bold]x[/bold]", ("Red", "Blue"))
        assert request.questions[0].descriptions == ("warm", "cool") and request.typed_allowed
        await engine.answer_input(1, request.id, InputAnswer(Reply.ANSWER, ("Blue",)))
        assert await asyncio.wait_for(engine.wait_until_settled(), 90) is EngineState.IDLE
        [finished] = [event for event in seen if isinstance(event, ev.LaneFinished)]
        assert finished.outcome is LaneOutcome.SUCCEEDED, finished.reason
        tool_results = [message.get("content") for body in model.requests for message in body.get("messages", [])
                        if message.get("role") == "tool"]
        assert any('"Which colour? [bold]x[/bold]"="Blue"' in str(content) for content in tool_results)
    finally:
        await engine.close()


@pytest.mark.parametrize("policy", ["reject", "allow"])
async def test_headless_run_applies_the_policy_without_waiting(
        model: FakeModelServer, home: Path, tmp_path: Path, policy: str) -> None:
    lanes = tmp_path / "lanes"
    repo = bash_task(tmp_path / "repo", lanes, model)
    (repo / ".orch-tui.toml").write_text(
        f'agent = "opencode"\nopencode_binary = "{opencode_binary()}"\nopencode_model = "fake/scripted"\n'
        f'worktree_dir = "{lanes}"\nbatch_size = 2\nagent_mail_url = "http://127.0.0.1:9/mcp/"\n'
        f'agent_permissions = "{policy}"\n')
    env = opencode_env(home, config=asking_config(model))
    env.pop("PWD", None)
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "orch_tui.app", "run", "--yes", "--max-batches", "1",
                             "--repo", str(repo)], env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "lane 1: t-1 NEEDS INPUT (permission bash): run: echo '[bold]hi[/bold]' > out.txt [once / always / reject]" in output
    if policy == "reject":
        assert "lane 1: t-1 rejected by the headless policy (agent_permissions = reject)" in output
        assert ("lane 1: t-1 failed: permission rejected by the headless policy (agent_permissions = reject): "
                "run: echo '[bold]hi[/bold]' > out.txt") in output
        assert read_statuses(repo)["t-1"] == "open"
        assert "t-1" not in " ".join(log_subjects(repo))
    else:
        assert "lane 1: t-1 allowed once by the headless policy (agent_permissions = allow)" in output
        assert read_statuses(repo)["t-1"] == "closed"
        assert (repo / "out.txt").read_text() == "[bold]hi[/bold]\n"


async def test_the_dashboard_answers_a_real_agent_and_sends_it_a_follow_up(
        server: SharedServerRunner, model: FakeModelServer, tmp_path: Path) -> None:
    """The keys a person presses, over the real engine and the real OpenCode: approve, the
    lane waits (yellow, banner), Enter opens it, f sends a follow-up, n then o answers, and
    the lane merges with the follow-up's edit."""
    lanes = tmp_path / "lanes"
    repo = bash_task(tmp_path / "repo", lanes, model)
    lane = Path(os.path.realpath(lanes)) / "lane-1"
    model.script_follow_up(str(lane), "FOLLOW-UP", [
        model.tool("write", filePath=f"{lane}/extra.txt", content="from the dashboard\n"), model.text("Done.")])
    engine, _ = build(repo, lanes, server, live_diff=True)
    app = OrchApp(engine, manage_engine=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.mirror.snapshot.graph is not None, "the engine to start", 60)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval gate", 60)
        await pilot.press("a")
        # The banner and the lane's question row are drawn in different frames: wait for both.
        await wait_for(pilot, lambda: "1 lane needs you: press n" in screen_text(app)
                       and "run: echo '[bold]hi[/bold]' > out.txt" in screen_text(app), "the lane to ask", 60)

        app.screen.query_one(LanePanel).query_one(DiffView).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LaneDetailScreen), "the lane detail", 10)
        await pilot.press("f", *"FOLLOW-UP: also write extra.txt", "enter")
        await app.commands_done()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard", 10)

        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, InputRequestScreen), "the request dialog", 10)
        await pilot.press("o")
        await wait_for(pilot, lambda: engine.state is EngineState.IDLE and any(
            merge.state == "merged" for merge in app.mirror.snapshot.merges), "the lane to merge", 90)
        await wait_for(pilot, lambda: "need you" not in screen_text(app), "the banner to go", 10)
        await pilot.press("q")
    assert (repo / "out.txt").read_text() == "[bold]hi[/bold]\n"
    assert (repo / "extra.txt").read_text() == "from the dashboard\n"
    assert any("FOLLOW-UP: also write extra.txt" in str(message.get("content"))
               for body in model.requests for message in body.get("messages", []) if message.get("role") == "user")
