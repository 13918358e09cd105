"""Getting a person's attention when a lane starts waiting for them: the terminal bell and,
where the terminal shows them, an OSC 9 desktop notification (`input_alert` in the config:
notify, bell or off)."""

from __future__ import annotations

from typing import Mapping

from orch_tui.widgets.safe_text import one_line

OSC9_TERMINALS = ("iTerm.app", "WezTerm", "ghostty")
"""TERM_PROGRAM values of terminals known to show OSC 9 as a desktop notification."""


def osc9_supported(env: Mapping[str, str]) -> bool:
    """Whether the terminal shows OSC 9 notifications (others may print it as garbage)."""
    return (env.get("TERM_PROGRAM", "") in OSC9_TERMINALS or "WT_SESSION" in env
            or env.get("TERM", "") in ("xterm-kitty", "xterm-ghostty"))


def osc9(message: str) -> str:
    """The escape sequence; the text is cleaned so it cannot end the sequence or start another."""
    return f"\x1b]9;{one_line(message, 200)}\x07"
