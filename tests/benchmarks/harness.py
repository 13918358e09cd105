"""Tiny benchmark harness: medians of repeated runs, printed as one table per run.

Machines here are noisy, so targets are judged on medians and on ratios measured in the
same run, never on a single stopwatch reading.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Literal


@dataclass
class Result:
    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None

    def line(self) -> str:
        verdict = {True: "ok", False: "MISSED", None: ""}[self.met]
        return f"{self.name:<58} {self.value:>12.4g} {self.unit:<6} {self.target:<18} {verdict}"


def median_seconds(action: Callable[[], object], repeat: int = 5,
                   setup: Callable[[], object] | None = None) -> float:
    """Median wall time of `action` over `repeat` runs (`setup` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def measure_loop_gaps(until: float, gaps: list[float], tick: float = 0.002,
                            woke_at: list[float] | None = None) -> None:
    """Until `until` (perf_counter): sleep `tick` over and over and record how much later than
    asked each wake-up came: the event loop's stalls (and, in `woke_at`, when each ended)."""
    last = time.perf_counter()
    while time.perf_counter() < until:
        await asyncio.sleep(tick)
        now = time.perf_counter()
        gaps.append(now - last - tick)
        if woke_at is not None:
            woke_at.append(now)
        last = now


class FullCollectionTimes:
    """While entered: when each of Python's full garbage collections ran (perf_counter start
    and end), from gc.callbacks, so a benchmark can say which stalls had one in them."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self._started = 0.0

    def __enter__(self) -> FullCollectionTimes:
        gc.callbacks.append(self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._record)

    def _record(self, phase: Literal["start", "stop"], info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                self._started = time.perf_counter()
            else:
                self.spans.append((self._started, time.perf_counter()))

    def breakdown(self, gaps: list[float], woke_at: list[float], since: float) -> dict[str, float]:
        """The full collections from `since` (count, longest) and the longest stall that had
        none in it: what else stalls the loop."""
        spans = [(start, end) for start, end in self.spans if start >= since]
        without = [gap for gap, end in zip(gaps, woke_at)
                   if not any(start < end and stop > end - gap for start, stop in spans)]
        return {"full_collections": float(len(spans)),
                "longest_full_collection_ms": max((end - start for start, end in spans), default=0.0) * 1000,
                "longest_stall_without_full_collection_ms": max(without, default=0.0) * 1000}
