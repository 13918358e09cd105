"""The lane detail screen (Enter on a lane): the whole diff, one section a file; the agent's
transcript (messages, tool calls with state and output, errors); tokens and cost; and a box
to send the running agent a follow-up message (`f`; OpenCode keeps a session for it, other
agents cannot, and the key says why)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from orch_tui.orchestration.commands import LaneView
from orch_tui.orchestration.agents.usage import usage_text
from orch_tui.widgets.file_diffs import FileDiffs
from orch_tui.widgets.lane import format_elapsed
from orch_tui.widgets.safe_text import one_line
from orch_tui.widgets.transcript_view import TranscriptView
from orch_tui.app.engine_requests import ask_engine, FollowUp

if TYPE_CHECKING:
    from orch_tui.app.app import OrchApp

TRANSCRIPT_SECONDS = 2.0
"""How often the transcript of a running lane is read again while it is shown."""


class LaneDetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the dashboard"),
        Binding("d", "show_tab('diff')", "Diff"),
        Binding("t", "show_tab('transcript')", "Transcript"),
        Binding("f", "follow_up", "Follow-up", tooltip="Send the running agent another message"),
        Binding("r", "reload", "Reload", tooltip="Read the transcript again"),
    ]
    DEFAULT_CSS = """
    LaneDetailScreen #detail-head { height: auto; background: $boost; padding: 0 1; }
    LaneDetailScreen #detail-tabs { height: 1fr; }
    LaneDetailScreen #follow-up { display: none; }
    LaneDetailScreen.-writing #follow-up { display: block; }
    """

    def __init__(self, lane: int) -> None:
        super().__init__()
        self.lane = lane
        self._shown_diff: str | None = None

    @property
    def orch(self) -> OrchApp:
        return self.app  # type: ignore[return-value]

    def view(self) -> LaneView:
        lanes = {view.lane: view for view in self.orch.mirror.snapshot.lanes}
        return lanes.get(self.lane, LaneView(self.lane))

    def compose(self) -> ComposeResult:
        yield Static(id="detail-head")
        with TabbedContent(id="detail-tabs", initial="diff"):
            with TabPane("diff", id="diff"):
                yield FileDiffs(id="detail-diff")
            with TabPane("transcript", id="transcript"):
                yield TranscriptView(id="detail-transcript")
        yield Input(placeholder="a follow-up for the agent: Enter sends, Esc cancels", id="follow-up")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.lane_changed()
        self.load_transcript()
        self.set_interval(TRANSCRIPT_SECONDS, self._tick)
        self.query_one(FileDiffs).focus()

    def lane_changed(self) -> None:
        """The engine said something about this lane: redraw the header (and a new diff)."""
        view = self.view()
        head = Text()
        head.append(f"lane {self.lane} · {view.task_id or 'free'} ", "bold")
        head.append(one_line(view.title, 80))
        status = view.outcome or view.status or "idle"
        head.append(f"\n{status}", "bold")
        if view.started_at is not None and view.task_id:
            head.append(f" · {format_elapsed(self.orch.clock() - view.started_at)}")
        usage = usage_text(view.tokens, view.cost)
        head.append(f" · {usage}" if usage else " · no tokens reported", "magenta" if usage else "dim")
        head.append(f" · {len(view.diff_files)} file(s) changed")
        if view.action:
            head.append(f"\n{one_line(view.action, 200)}", "dim")
        self.query_one("#detail-head", Static).update(head)
        if view.diff != self._shown_diff:
            self._shown_diff = view.diff
            self.query_one(FileDiffs).show_diff(view.diff)

    def _tick(self) -> None:
        view = self.view()
        if view.outcome is None and view.task_id and \
                self.query_one(TabbedContent).active == "transcript":
            self.load_transcript()

    @work(exclusive=True, group="lane-transcript", exit_on_error=False)
    async def load_transcript(self) -> None:
        try:
            entries = await self.orch.engine.lane_transcript(self.lane)
        except Exception as error:  # shown where the transcript would be; the screen stays
            self.notify(f"could not read lane {self.lane}'s transcript: {error}", severity="error")
            return
        self.query_one(TranscriptView).show_entries(entries)

    # ----- actions ------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.has_class("-writing"):
            self._stop_writing()
        else:
            self.dismiss(None)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        (self.query_one(TranscriptView) if tab == "transcript" else self.query_one(FileDiffs)).focus()
        if tab == "transcript":
            self.load_transcript()

    def action_reload(self) -> None:
        self.load_transcript()

    def action_follow_up(self) -> None:
        refusal = self.orch.engine.follow_up_refusal(self.lane)
        if refusal:
            self.notify(f"No follow-up: {refusal}.", severity="warning", timeout=8)
            return
        self.set_class(True, "-writing")
        self.query_one("#follow-up", Input).focus()

    @on(Input.Submitted, "#follow-up")
    def _send_follow_up(self, message: Input.Submitted) -> None:
        text = message.value.strip()
        if not text:
            self.notify("Type the message first (Esc cancels).", severity="warning")
            return
        ask_engine(self, FollowUp(self.lane, text))
        message.input.value = ""
        self.query_one(TabbedContent).active = "transcript"
        self._stop_writing()
        self.notify(f"Follow-up sent to lane {self.lane}'s agent.")
        self._transcript_after_commands()

    @work(exclusive=True, group="lane-transcript-after", exit_on_error=False)
    async def _transcript_after_commands(self) -> None:
        """The follow-up is in the transcript once the engine has sent it."""
        await self.orch.commands_done()
        self.load_transcript()

    def _stop_writing(self) -> None:
        self.set_class(False, "-writing")
        shown = self.query_one(TabbedContent).active  # focus stays on the tab that is shown
        (self.query_one(TranscriptView) if shown == "transcript" else self.query_one(FileDiffs)).focus()
