"""Threads for work nobody waits on, at a lower CPU priority than the rest of orch-tui.

The live diffs run git in every lane several times a second. At the same priority as the
dashboard, those gits took both cores of a 2-core machine in bursts and the kernel left the
dashboard's thread waiting 30-90 ms for a core while its own work was 5 ms
(`tests/benchmarks/bench_load_repo.py`: the process used almost no CPU during its longest
stalls). Here the threads run at nice 10 and the gits they start inherit it (Linux gives each
thread its own nice value, and a child its parent thread's): the dashboard, the engine and
the agents come first, the diffs take what is left. Elsewhere the threads run at the usual
priority (other systems give the nice value to the whole process).
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

BACKGROUND_NICE = 10
"""Added to the nice value of each background thread (and so of the processes it starts)."""

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def lower_this_threads_priority() -> None:
    """The calling thread, and every process it starts from now on, runs BACKGROUND_NICE lower."""
    if not sys.platform.startswith("linux"):
        return  # only Linux sets a nice value per thread
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + BACKGROUND_NICE)
    except OSError:
        pass  # refused (a sandbox without setpriority): the work runs at the usual priority


def _background_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # As many threads as asyncio's default executor: a refresh per lane at once.
            _executor = ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4),
                                           thread_name_prefix="orch-background",
                                           initializer=lower_this_threads_priority)
        return _executor


def in_background(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
    """`function(*args, **kwargs)` on a background thread; await the future for its result."""
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(_background_executor(), functools.partial(function, *args, **kwargs))
