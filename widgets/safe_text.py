"""Untrusted text (task titles, agent output, diffs) made safe to draw.

Rich markup is never interpreted (text goes into `rich.text.Text` as a plain string), ANSI
escape sequences and other control characters are removed, and very long lines are cropped
so one line of minified JavaScript cannot stall rendering.
"""

from __future__ import annotations

import re

from rich.text import Text

MAX_LINE = 400
"""Characters kept of one line; the rest is replaced by an ellipsis."""

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-character ESC sequences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# C0 controls except tab and newline, DEL, C1 controls (0x80-0x9f, e.g. the 8-bit CSI), and
# the bidirectional marks, overrides and isolates that can make text read backwards.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str, max_line: int = MAX_LINE) -> str:
    """`text` without escape sequences or control characters, each line at most `max_line`."""
    text = _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n"))).expandtabs(4)
    if max_line and any(len(line) > max_line for line in text.split("\n")):
        text = "\n".join(crop(line, max_line) for line in text.split("\n"))
    return text


def crop(line: str, max_line: int = MAX_LINE) -> str:
    return line if len(line) <= max_line else line[: max_line - 1] + "…"


def one_line(text: str, max_line: int = MAX_LINE) -> str:
    """`clean` text folded onto one line (for table cells and headers)."""
    return crop(" ".join(clean(text, 0).split()), max_line)


def literal(text: str, style: str = "", max_line: int = MAX_LINE) -> Text:
    """A Rich Text that shows `text` exactly as written, never as markup."""
    return Text(clean(text, max_line), style=style, no_wrap=False)
