"""The engine's log, newest last; every line is shown literally."""

from __future__ import annotations

import time
from typing import Callable

from rich.text import Text
from textual.widgets import RichLog

from orch_tui.widgets.safe_text import one_line

LEVEL_STYLES = {"debug": "dim", "info": "", "good": "green", "warning": "yellow", "error": "bold red",
                "alert": "bold red"}
MAX_LOG_LINES = 2000


class EventLog(RichLog):
    DEFAULT_CSS = """
    EventLog { height: 1fr; background: $surface; scrollbar-size: 0 1; }
    """

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_LOG_LINES, wrap=False, markup=False, highlight=False,
                         auto_scroll=True)
        self.clock = clock

    def add(self, text: str, level: str = "info") -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(time.strftime("%H:%M:%S ", time.gmtime(self.clock())), "dim")
        line.append(one_line(text, 500), LEVEL_STYLES.get(level, ""))
        self.write(line)
