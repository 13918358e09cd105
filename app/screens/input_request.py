"""The request dialog (`n`): what a waiting agent asks, answered without leaving the dashboard.

It shows the oldest waiting request of any lane, literally (agent output may hold markup or
escapes), with how long it has waited and how many more wait. A permission takes `o` once,
`a` always or `r` reject; a question takes an option's number, `t` to type an answer (Enter
sends) or `r` to dismiss it. After an answer the next waiting request appears in the same
place, so several lanes are answered one after another; the dialog closes when none is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from orch_tui.orchestration.commands import EngineSnapshot, LaneView
from orch_tui.orchestration.events import InputAnswer, InputKind, InputRequest, Reply
from orch_tui.widgets.lane import format_elapsed
from orch_tui.widgets.safe_text import clean, one_line
from orch_tui.app.engine_requests import ask_engine, AnswerInput

if TYPE_CHECKING:
    from orch_tui.app.app import OrchApp

DETAIL_CHARS = 4000
"""Of an edit's diff, shown under the request (the lane detail has the whole diff)."""


def waiting_requests(snapshot: EngineSnapshot) -> list[tuple[LaneView, InputRequest]]:
    """Every request a running lane's agent waits on, oldest first."""
    found = [(view, request) for view in snapshot.lanes if view.outcome is None for request in view.inputs]
    return sorted(found, key=lambda pair: (pair[1].asked_at, pair[0].lane))


class InputRequestScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("o", "reply('once')", "Once", tooltip="Allow this tool call once"),
        Binding("a", "reply('always')", "Always", tooltip="Allow it and its kind from now on"),
        Binding("r", "reply('reject')", "Reject", tooltip="Refuse (a question: dismiss it)"),
        Binding("t", "type_answer", "Type", tooltip="Type an answer to the question (Enter sends)"),
        *[Binding(str(n), f"pick({n})", show=False) for n in range(1, 10)],
        Binding("escape", "close", "Close", tooltip="Close; the agents keep waiting"),
    ]
    DEFAULT_CSS = """
    InputRequestScreen { align: center middle; }
    InputRequestScreen > Vertical { width: 96; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1; }
    InputRequestScreen #request-head { height: auto; color: $text-warning; text-style: bold; }
    InputRequestScreen #request-text { height: auto; margin: 1 0 0 0; }
    InputRequestScreen #request-detail { height: auto; max-height: 12; color: $text-muted; }
    InputRequestScreen #request-options { height: auto; margin-top: 1; }
    InputRequestScreen #request-typed { display: none; }
    InputRequestScreen.-typing #request-typed { display: block; }
    InputRequestScreen #request-hint { height: auto; margin-top: 1; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.current: tuple[LaneView, InputRequest] | None = None
        self.answered: set[str] = set()
        """Requests answered here whose answer the engine has not confirmed yet."""
        self._answers: list[str] = []
        """Answers so far to the current request's questions (OpenCode may ask several)."""

    @property
    def orch(self) -> OrchApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "an agent asks"
            yield Static(id="request-head")
            yield Static(id="request-text")
            with VerticalScroll(id="request-detail"):
                yield Static(id="request-detail-text")
            yield Static(id="request-options")
            yield Input(placeholder="your answer (Enter sends, Esc leaves the box)", id="request-typed")
            yield Static(id="request-hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.requests_changed()
        self.set_interval(1.0, self._show_head)

    # ----- which request is shown ---------------------------------------------------------
    def requests_changed(self) -> None:
        """The engine's picture changed: keep the shown request if it still waits, else the next."""
        waiting = [(view, request) for view, request in waiting_requests(self.orch.mirror.snapshot)
                   if request.id not in self.answered]
        self.answered &= {request.id for view in self.orch.mirror.snapshot.lanes for request in view.inputs}
        if self.current is not None and any(request.id == self.current[1].id for _, request in waiting):
            self._show_head()
            return
        if not waiting:
            self.dismiss(None)
            return
        self.current = waiting[0]
        self._answers = []
        self._show()

    def _waiting_count(self) -> int:
        return sum(1 for _, request in waiting_requests(self.orch.mirror.snapshot)
                   if request.id not in self.answered)

    def _show(self) -> None:
        assert self.current is not None
        view, request = self.current
        body = Text()
        question = self._question_index()
        if request.kind is InputKind.QUESTION and request.questions:
            asked = request.questions[question]
            if asked.header:
                body.append(one_line(asked.header, 80) + "\n", "bold")
            body.append(clean(asked.text))
        else:
            body.append(clean(request.text))
        self.query_one("#request-text", Static).update(body)
        detail = request.detail if request.kind is InputKind.PERMISSION else ""
        self.query_one("#request-detail-text", Static).update(Text(clean(detail[:DETAIL_CHARS]), style="dim"))
        self.query_one("#request-detail").display = bool(detail)
        self.query_one("#request-options", Static).update(self._options_text(request, question))
        self.query_one("#request-hint", Static).update(Text(self._hint(request), style="dim"))
        self.set_class(False, "-typing")
        typed = self.query_one("#request-typed", Input)
        typed.value = ""
        self.set_focus(None)  # keys answer; `t` moves into the box
        self._show_head()

    def _question_index(self) -> int:
        return len(self._answers)

    def _show_head(self) -> None:
        if self.current is None:
            return
        view, request = self.current
        waited = format_elapsed(self.orch.clock() - request.asked_at)
        head = Text()
        head.append(f"lane {view.lane} · {view.task_id} ", "bold")
        head.append(one_line(view.title, 50))
        head.append(f"\nasks {request.kind.value}: {one_line(request.tool, 30)} · waiting {waited}")
        more = self._waiting_count() - 1
        if request.kind is InputKind.QUESTION and len(request.questions) > 1:
            head.append(f" · question {self._question_index() + 1} of {len(request.questions)}")
        if more > 0:
            head.append(f" · {more} more waiting")
        self.query_one("#request-head", Static).update(head)

    @staticmethod
    def _options_text(request: InputRequest, question: int) -> Text:
        text = Text()
        if request.kind is InputKind.PERMISSION:
            text.append("o", "bold reverse")
            text.append(" once   ")
            text.append("a", "bold reverse")
            text.append(" always   ")
            text.append("r", "bold reverse")
            text.append(" reject")
            return text
        asked = request.questions[question] if request.questions else None
        for number, option in enumerate(asked.options if asked else (), start=1):
            text.append(f"{number}" if number <= 9 else " ", "bold reverse")
            text.append(f" {one_line(option, 40)}")
            description = asked.descriptions[number - 1] if asked and number <= len(asked.descriptions) else ""
            if description:
                text.append(f"  {one_line(description, 60)}", "dim")
            text.append("\n")
        if asked is not None and asked.typed_allowed:
            text.append("t", "bold reverse")
            text.append(" type an answer\n")
        text.append("r", "bold reverse")
        text.append(" dismiss the question")
        return text

    @staticmethod
    def _hint(request: InputRequest) -> str:
        if request.kind is InputKind.PERMISSION:
            return "once: allow this call · always: allow calls like it from now on · esc: close, the agent keeps waiting"
        return "a typed answer is sent with Enter · esc: close, the agent keeps waiting"

    # ----- answering ----------------------------------------------------------------------
    def action_reply(self, reply: str) -> None:
        if self.current is None:
            return
        request = self.current[1]
        if request.kind is InputKind.QUESTION and reply != Reply.REJECT.value:
            self.notify("A question takes an option's number, t to type, or r to dismiss.")
            return
        self._send(InputAnswer(Reply(reply)))

    def action_pick(self, number: int) -> None:
        if self.current is None or self.current[1].kind is not InputKind.QUESTION:
            return
        request = self.current[1]
        options = request.questions[self._question_index()].options if request.questions else ()
        if not 1 <= number <= len(options):
            self.notify(f"There is no option {number}.", severity="warning")
            return
        self._answer_question(options[number - 1])

    def action_type_answer(self) -> None:
        if self.current is None:
            return
        request = self.current[1]
        if request.kind is not InputKind.QUESTION or not request.typed_allowed:
            self.notify("This request takes no typed answer.", severity="warning")
            return
        self.set_class(True, "-typing")
        self.query_one("#request-typed", Input).focus()

    @on(Input.Submitted, "#request-typed")
    def _typed(self, message: Input.Submitted) -> None:
        text = message.value.strip()
        if not text:
            self.notify("Type an answer first (or press Esc, then r to dismiss).", severity="warning")
            return
        self._answer_question(text)

    def _answer_question(self, answer: str) -> None:
        assert self.current is not None
        request = self.current[1]
        self._answers.append(answer)
        if len(self._answers) < len(request.questions):
            self._show()  # the next question of the same request
            return
        self._send(InputAnswer(Reply.ANSWER, tuple(self._answers)))

    def _send(self, answer: InputAnswer) -> None:
        assert self.current is not None
        view, request = self.current
        ask_engine(self, AnswerInput(view.lane, request.id, answer))
        self.answered.add(request.id)
        self.current = None
        self.requests_changed()

    def action_close(self) -> None:
        if self.has_class("-typing") and self.focused is self.query_one("#request-typed", Input):
            self.set_class(False, "-typing")
            self.set_focus(None)
            return
        self.dismiss(None)
