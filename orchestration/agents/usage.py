"""Tokens and cost: what an agent spent (OpenCode's `step-finish` parts), as people read it,
and the optional per-task budgets (`max_tokens_per_task`, `max_cost_per_task`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol


class HasUsage(Protocol):
    lane: int
    tokens: int
    cost: float


def format_tokens(tokens: int) -> str:
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.1f}M"
    if tokens >= 10_000:
        return f"{tokens / 1000:.0f}k"
    if tokens >= 1000:
        return f"{tokens / 1000:.1f}k"
    return str(tokens)


def usage_text(tokens: int, cost: float) -> str:
    """"1.2k tok · $0.14"; empty when nothing was spent (or the agent does not say)."""
    parts = [f"{format_tokens(tokens)} tok"] if tokens else []
    if cost:
        parts.append(f"${cost:.2f}" if cost >= 0.01 else f"${cost:.4f}")
    return " · ".join(parts)


def batch_usage_line(lanes: Iterable[HasUsage]) -> str | None:
    """The batch summary: its total and each lane's share; None when nothing was spent."""
    spent = [lane for lane in lanes if lane.tokens or lane.cost]
    if not spent:
        return None
    total = usage_text(sum(lane.tokens for lane in spent), sum(lane.cost for lane in spent))
    each = ", ".join(f"lane {lane.lane} {usage_text(lane.tokens, lane.cost)}" for lane in spent)
    return f"batch used {total} ({each})"


@dataclass(frozen=True)
class Budget:
    max_tokens: int | None = None
    max_cost: float | None = None

    def exceeded(self, tokens: int, cost: float) -> str | None:
        """Why the agent must stop, or None while it is within its budget."""
        if self.max_tokens is not None and tokens > self.max_tokens:
            return (f"stopped over its token budget: {tokens:,} tokens > max_tokens_per_task "
                    f"{self.max_tokens:,}; its work is kept on its branch")
        if self.max_cost is not None and cost > self.max_cost:
            return (f"stopped over its cost budget: ${cost:.4f} > max_cost_per_task "
                    f"${self.max_cost:.4f}; its work is kept on its branch")
        return None
