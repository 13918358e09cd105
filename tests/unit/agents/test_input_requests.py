"""Agents that ask, without a server: OpenCode's recorded `permission.asked` /
`question.asked` properties (opencode 1.18.33) become InputRequests, answers typed at a
prompt are understood, and the snapshot says a waiting lane needs input, not busy."""

from __future__ import annotations

from pathlib import Path

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.agents.opencode_events import (OpenCodeVerdict, permission_request,
                                                          question_request)
from orch_tui.orchestration.commands import EngineSnapshot
from orch_tui.orchestration.events import InputAnswer, InputKind, LaneOutcome, Reply
from orch_tui.orchestration.agents.input_policy import parse_typed_answer, policy_answer
from orch_tui.orchestration.engine.snapshot_reducer import apply_event

WORKTREE = Path("/work/lane-1")
BASH_ASKED = {"id": "per_1", "sessionID": "ses_1", "permission": "bash",
              "patterns": ["echo '[red]hi[/red]' > b.txt"], "metadata": {"command": "echo '[red]hi[/red]' > b.txt"},
              "always": ["echo *"], "tool": {"messageID": "msg_1", "callID": "call_0"}}
EDIT_ASKED = {"id": "per_2", "sessionID": "ses_1", "permission": "edit", "patterns": ["c.txt"],
              "metadata": {"filepath": "/work/lane-1/c.txt", "diff": "--- c.txt\n+++ c.txt\n@@ -0,0 +1 @@\n+hello\n"},
              "always": ["*"], "tool": {"messageID": "msg_1", "callID": "call_0"}}
QUESTION_ASKED = {"id": "que_1", "sessionID": "ses_1", "tool": {"messageID": "msg_1", "callID": "call_0"},
                  "questions": [{"question": "Which colour [bold]?", "header": "Colour",
                                 "options": [{"label": "Red", "description": "warm"},
                                             {"label": "Blue", "description": "cool"}]}]}


def test_a_bash_permission_names_the_command_literally() -> None:
    request = permission_request(BASH_ASKED, WORKTREE, now=5.0)
    assert (request.id, request.kind, request.tool) == ("per_1", InputKind.PERMISSION, "bash")
    assert request.text == "run: echo '[red]hi[/red]' > b.txt"
    assert request.options == ("once", "always", "reject") and not request.typed_allowed
    assert request.detail == "'always' allows from now on: echo *" and request.asked_at == 5.0


def test_an_edit_permission_names_the_file_and_carries_the_diff() -> None:
    request = permission_request(EDIT_ASKED, WORKTREE)
    assert request.text == "edit c.txt"
    assert "+hello" in request.detail


def test_a_question_keeps_its_options_and_allows_a_typed_answer() -> None:
    request = question_request(QUESTION_ASKED)
    assert (request.kind, request.text, request.options) == (InputKind.QUESTION, "Which colour [bold]?", ("Red", "Blue"))
    assert request.questions[0].descriptions == ("warm", "cool") and request.typed_allowed
    closed = question_request({**QUESTION_ASKED, "questions": [{**QUESTION_ASKED["questions"][0], "custom": False}]})
    assert not closed.typed_allowed


def test_typed_answers_at_a_prompt() -> None:
    permission = permission_request(BASH_ASKED, WORKTREE)
    assert parse_typed_answer(permission, "o") == InputAnswer(Reply.ONCE)
    assert parse_typed_answer(permission, " Always ") == InputAnswer(Reply.ALWAYS)
    assert parse_typed_answer(permission, "yes please") is None
    question = question_request(QUESTION_ASKED)
    assert parse_typed_answer(question, "2") == InputAnswer(Reply.ANSWER, ("Blue",))
    assert parse_typed_answer(question, "red") == InputAnswer(Reply.ANSWER, ("Red",))
    assert parse_typed_answer(question, "green, please") == InputAnswer(Reply.ANSWER, ("green, please",))
    assert parse_typed_answer(question, "reject") == InputAnswer(Reply.REJECT)


def test_the_headless_policy() -> None:
    permission, question = permission_request(BASH_ASKED, WORKTREE), question_request(QUESTION_ASKED)
    assert policy_answer(permission, "reject") == InputAnswer(Reply.REJECT)
    assert policy_answer(permission, "allow") == InputAnswer(Reply.ONCE)
    assert policy_answer(question, "allow") == InputAnswer(Reply.REJECT)


def test_the_verdict_says_once_per_request_and_a_rejection_is_the_reason() -> None:
    events: list[ev.Event] = []
    verdict = OpenCodeVerdict(1, "bd-1", WORKTREE, events.append)
    request = permission_request(BASH_ASKED, WORKTREE)
    verdict.on_input_asked(request)
    verdict.on_input_asked(request)  # the same request seen again (a reconnect) is not news
    verdict.on_input_answered("per_1", Reply.REJECT, "rejected", "a person")
    verdict.on_server_answer("permission.replied", {"sessionID": "ses_1", "requestID": "per_1", "reply": "reject"})
    assert events == [ev.LaneNeedsInput(1, "bd-1", request), ev.LaneInputAnswered(1, "bd-1", "per_1", "rejected", "a person")]
    assert verdict.judge(()) == (LaneOutcome.FAILED, "permission rejected by a person: run: echo '[red]hi[/red]' > b.txt")


def test_a_waiting_lane_needs_input_until_answered() -> None:
    view = EngineSnapshot()
    request = question_request(QUESTION_ASKED)
    apply_event(view, ev.LaneStarted(1, "bd-1", "t", "orch/bd-1", "/w"))
    apply_event(view, ev.LaneNeedsInput(1, "bd-1", request))
    apply_event(view, ev.LaneProgress(1, "bd-1", "busy", "question (started)"))
    apply_event(view, ev.LaneStalled(1, "bd-1", 130.0, "question (started)"))
    assert view.lanes[0].status == "needs-input" and view.lanes[0].inputs == (request,)
    apply_event(view, ev.LaneInputAnswered(1, "bd-1", "que_1", "answered 'Blue'", "a person"))
    assert view.lanes[0].status == "busy" and view.lanes[0].inputs == ()
    assert view.lanes[0].action == "answered 'Blue' by a person"


class RecordingEngine:
    def __init__(self) -> None:
        self.answers: list[tuple[int, str, InputAnswer, str]] = []

    async def answer_input(self, lane: int, request_id: str, answer: InputAnswer, by: str = "a person") -> None:
        self.answers.append((lane, request_id, answer, by))


async def test_run_on_a_terminal_asks_until_it_gets_an_answer() -> None:
    import asyncio
    import io

    from rich.console import Console

    from orch_tui.app.commands.run import InputAnswerer

    typed = iter(["yes please", "a", "2"])
    output = io.StringIO()
    console = Console(file=output, markup=False, highlight=False, width=200)
    console.input = lambda prompt="", **kwargs: (console.print(prompt), next(typed))[1]  # type: ignore[method-assign]
    engine = RecordingEngine()
    answerer = InputAnswerer(engine, console, "reject", interactive=True)  # type: ignore[arg-type]
    answerer(ev.LaneNeedsInput(3, "bd-3", permission_request(BASH_ASKED, WORKTREE)))
    answerer(ev.LaneNeedsInput(4, "bd-4", question_request(QUESTION_ASKED)))
    while len(engine.answers) < 2:
        await asyncio.sleep(0.01)
    assert engine.answers == [(3, "per_1", InputAnswer(Reply.ALWAYS), "a person"),
                              (4, "que_1", InputAnswer(Reply.ANSWER, ("Blue",)), "a person")]
    printed = output.getvalue()
    assert "lane 3 asks (once/always/reject):" in printed
    assert "not an answer; type one of: once/always/reject" in printed
    assert "lane 4 asks (1) Red 2) Blue or type an answer; reject to dismiss):" in printed


async def test_run_without_a_terminal_applies_the_policy_at_once() -> None:
    import asyncio
    import io

    from rich.console import Console

    from orch_tui.app.commands.run import InputAnswerer

    engine = RecordingEngine()
    answerer = InputAnswerer(engine, Console(file=io.StringIO()), "allow", interactive=False)  # type: ignore[arg-type]
    answerer(ev.LaneNeedsInput(1, "bd-1", permission_request(BASH_ASKED, WORKTREE)))
    answerer(ev.LaneNeedsInput(2, "bd-2", question_request(QUESTION_ASKED)))
    while len(engine.answers) < 2:
        await asyncio.sleep(0.01)
    label = "the headless policy (agent_permissions = allow)"
    assert sorted(engine.answers) == [(1, "per_1", InputAnswer(Reply.ONCE), label),
                                      (2, "que_1", InputAnswer(Reply.REJECT), label)]
