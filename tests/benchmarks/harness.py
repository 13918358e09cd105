"""Tiny benchmark harness: medians of repeated runs, printed as one table per run.

Machines here are noisy, so targets are judged on medians and on ratios measured in the
same run, never on a single stopwatch reading.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Callable


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


async def measure_loop_gaps(until: float, gaps: list[float], tick: float = 0.002) -> None:
    """Until `until` (perf_counter): sleep `tick` over and over and record how much later than
    asked each wake-up came: the event loop's stalls."""
    last = time.perf_counter()
    while time.perf_counter() < until:
        await asyncio.sleep(tick)
        now = time.perf_counter()
        gaps.append(now - last - tick)
        last = now
