"""Background threads run, and start processes, at a lower CPU priority than orch-tui."""

from __future__ import annotations

import os
import subprocess
import threading

from orch_tui.orchestration.infra.background_threads import BACKGROUND_NICE, in_background


def _own_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_work_in_the_background_runs_niced_and_so_do_its_processes() -> None:
    ours = _own_nice()
    lowered = min(19, ours + BACKGROUND_NICE)
    assert await in_background(_own_nice) == lowered
    started = await in_background(subprocess.run, ["nice"], capture_output=True, text=True, check=True)
    assert int(started.stdout) == lowered
    assert _own_nice() == ours, "the caller's own thread kept its priority"


async def test_an_error_in_the_background_reaches_the_caller() -> None:
    def fails() -> None:
        raise ValueError("the work failed")
    try:
        await in_background(fails)
    except ValueError as error:
        assert str(error) == "the work failed"
    else:
        raise AssertionError("the error was lost")
