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
from orch_tui.orchestration.input_policy import parse_typed_answer, policy_answer
from orch_tui.orchestration.snapshot_reducer import apply_event

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
    assert view.lanes[0].status == "needs-input" and view.lanes[0].inputs == (request,)
    apply_event(view, ev.LaneInputAnswered(1, "bd-1", "que_1", "answered 'Blue'", "a person"))
    assert view.lanes[0].status == "busy" and view.lanes[0].inputs == ()
    assert view.lanes[0].action == "answered 'Blue' by a person"
