"""`?`: every key of the screen it was opened from, and the app's own keys."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

INTRO = ("orch-tui proposes a batch of independent ready tasks; nothing runs until you approve it. "
         "Each task runs in its own lane; finished branches merge one at a time and every "
         "conflict stops here for you. Every action is also in the command palette (ctrl+p).")


def key_table(title: str, bindings: list[Binding]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for binding in bindings:
        if binding.description:
            table.add_row(binding.key_display or binding.key, binding.tooltip or binding.description)
    return table


def _own_bindings(node: DOMNode) -> list[Binding]:
    """The bindings the class itself declares (not Textual's inherited focus/copy keys)."""
    return [b for b in type(node).BINDINGS if isinstance(b, Binding)]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close help")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 1 2; }
    """

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        name = type(self.under).__name__.removesuffix("Screen").lower() or "screen"
        with VerticalScroll() as scroll:
            scroll.border_title = "help"
            yield Static(Text(INTRO))
            yield Static(key_table(f"\n{name} keys", _own_bindings(self.under)))
            yield Static(key_table("\neverywhere", _own_bindings(self.app)
                                   + [Binding("ctrl+p", "command_palette", "Command palette")]))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
