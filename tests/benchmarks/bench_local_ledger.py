"""The local reservation ledger: what a lane's claim and release cost (a locked, fsynced
rewrite of `.git/orch-tui/reservations.json` each), and a ledger read.

- claim + release of 4 lanes x 5 patterns, median of several batches;
- one claim, p50 and p90 over every claim of those batches;
- a read of the ledger with 4 x 5 entries (what `orch-tui status` and the monitor do).
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from orch_tui.orchestration.reservations.local_ledger import LocalLedger, LocalReservations
from tests.benchmarks.harness import Result, median_seconds, percentile

LANES, PATTERNS, BATCHES = 4, 5, 20


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["git", "init", "-q", folder], check=True)
        return asyncio.run(_measure(Path(folder)))


async def _measure(repo: Path) -> list[Result]:
    manager = LocalReservations(LocalLedger.for_repo(repo), str(repo), LANES, 3600)
    await manager.start()
    batches, claims = [], []
    for _ in range(BATCHES):
        started = time.perf_counter()
        for lane in range(1, LANES + 1):
            begun = time.perf_counter()
            await manager.claim(lane, f"T-{lane}", [f"src/l{lane}/p{n}/**" for n in range(PATTERNS)])
            claims.append(time.perf_counter() - begun)
        for lane in range(1, LANES + 1):
            await manager.release(lane)
        batches.append(time.perf_counter() - started)
    for lane in range(1, LANES + 1):
        await manager.claim(lane, f"T-{lane}", [f"src/l{lane}/p{n}/**" for n in range(PATTERNS)])
    read = median_seconds(manager.local_ledger.active, repeat=20)
    batch = sorted(batches)[len(batches) // 2]
    return [
        Result(f"claim + release {LANES} lanes x {PATTERNS} patterns (median of {BATCHES})", batch, "s",
               "< 0.5 s", batch < 0.5),
        Result("one claim, p50", percentile(claims, 0.5), "s"),
        Result("one claim, p90", percentile(claims, 0.9), "s", "< 0.1 s", percentile(claims, 0.9) < 0.1),
        Result(f"read the ledger ({LANES * PATTERNS} entries)", read, "s"),
    ]
