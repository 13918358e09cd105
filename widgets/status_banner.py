"""One line at the top that says what needs a person's eye: engine state, sequential mode,
failures, timeouts, alerts and a merge waiting for a person. Never only in the log.
Local reservations (no Agent Mail) are said calmly: the lanes still run in parallel."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import Static

from orch_tui.orchestration.reservations.local_ledger import LOCAL_MODE_REASON

from orch_tui.widgets.safe_text import one_line


@dataclass
class BannerFacts:
    state: str = "idle"
    mode: str = "parallel"
    mode_reason: str = ""
    batch_size: int = 4
    failures: list[str] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)
    waiting: str = ""
    error: str = ""
    needs_input: int = 0
    """Lanes whose agent waits for a person's answer."""
    usage: str = ""
    """Tokens and cost of the batch so far."""
    pool: str = ""
    """Disk use of the lane pool (`1.2 GB`); empty until measured."""


class StatusBanner(Static):
    DEFAULT_CSS = """
    StatusBanner { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    StatusBanner.-warning { background: $warning 35%; }
    StatusBanner.-error { background: $error 45%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.facts = BannerFacts()

    def on_mount(self) -> None:
        self.show_facts(self.facts)

    def show_facts(self, facts: BannerFacts) -> None:
        self.facts = facts
        line = Text(overflow="ellipsis")
        line.append("orch-tui ", "bold")
        line.append(f"● {facts.state}", "bold")
        line.append(f"  batch {facts.batch_size}")
        if facts.pool:
            line.append(f"  pool {facts.pool}", "dim")
        if facts.mode == "sequential":
            line.append("  SEQUENTIAL MODE", "bold reverse")
            if facts.mode_reason:
                line.append(" " + one_line(facts.mode_reason, 80))
        elif facts.mode == "local":
            # Lanes run in parallel; only other agents are in the dark. Not an error.
            line.append(f"  parallel · {LOCAL_MODE_REASON}", "dim")
        else:
            line.append("  parallel", "dim")
        if facts.usage:
            line.append(f"  {facts.usage}", "magenta")
        for label, items in (("FAILED", facts.failures), ("TIMED OUT", facts.timeouts),
                             ("ALERT", facts.alerts), ("STALLED", facts.stalled)):
            if items:
                line.append(f"  {label}: ", "bold")
                line.append(one_line(", ".join(items), 80))
        if facts.needs_input:
            lanes = "1 lane needs" if facts.needs_input == 1 else f"{facts.needs_input} lanes need"
            line.append(f"  ? {lanes} you: press n", "bold")
        if facts.waiting:
            line.append("  ⚑ " + one_line(facts.waiting, 80), "bold")
        if facts.error:
            line.append("  ERROR: " + one_line(facts.error, 100), "bold")
        self.update(line)
        error = bool(facts.failures or facts.timeouts or facts.alerts or facts.error or facts.waiting
                     or facts.needs_input)
        self.set_class(error, "-error")
        self.set_class(not error and (facts.mode == "sequential" or bool(facts.stalled)), "-warning")
