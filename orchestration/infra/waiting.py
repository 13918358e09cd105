"""Bounded waits that never lose a cancellation.

On Python 3.11 `asyncio.wait_for` can swallow a cancellation that arrives just as the awaited
thing finishes (CPython gh-86296): a stop signal then goes unheard and the run waits forever.
`asyncio.timeout` has no such race, so every bounded wait goes through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def wait_at_most(awaitable: Awaitable[object], seconds: float) -> bool:
    """Await `awaitable` for at most `seconds`: True when it finished, False when time ran out."""
    try:
        async with asyncio.timeout(seconds):
            await awaitable
    except TimeoutError:
        return False
    return True
