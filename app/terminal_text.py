"""Untrusted text made safe for a plain terminal (the CLI's stdout and stderr).

Task titles, ids, file patterns and error messages that quote them come from task text or
agent output. Printed raw, an ESC could recolour or clear the screen, an OSC could set the
clipboard or forge a hyperlink, a carriage return could overwrite what came before, and a
bidirectional override could make text read backwards. `literal` shows every such character
as a visible escape (`\\x1b`, `\\u202e`) so the person sees exactly what was written.
"""

from __future__ import annotations

import re

# C0/C1 controls (newline included: one record, one line), DEL, and the bidirectional
# marks, embeddings, overrides and isolates.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def literal(text: str, width: int = 0) -> str:
    """Text shown exactly as written: control characters become visible escapes (\\x1b)."""
    shown = _UNSAFE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
    if width and len(shown) > width:
        shown = shown[: width - 1] + "…"
    return shown


def literal_lines(text: str) -> str:
    """Like `literal`, but line breaks of a multi-line message stay line breaks."""
    return "\n".join(literal(line) for line in text.split("\n"))
