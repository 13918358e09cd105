"""Which paths under a directory changed, as batches: the live diff's eyes.

`open_tree_watch(root, ...)` gives an async iterator of batches: the set of absolute paths
that changed in a burst (a burst ends after `quiet_ms` without a new change, or
`debounce_ms` after it began), an empty set when `timeout_seconds` passed without any, and
None when changes may have been missed (the kernel's queue overflowed, the root itself
moved): then the caller looks at everything. What watchfiles' `DefaultFilter` ignores
(`.git`, virtual environments, node_modules, bytecode, editor files) is never reported.

On Linux it is inotify, driven from the event loop itself (`loop.add_reader`): no thread,
no polling, a change is seen the moment the kernel says so. The directories to watch are
found by a walk in a worker thread that skips the ignored folders: watchfiles builds its
watch on the event loop, walking everything (a `.venv` or node_modules included), which
stalled the dashboard ~50 ms per lane start on a 20,000-file repository. Elsewhere, and
when inotify is not available, it is watchfiles (`awatch`), with the same batches.

The inotify binding is ctypes over three libc calls and one `os.read`: asyncinotify, the
library looked at, reads through a blocking descriptor and adds a reader per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from watchfiles import Change, DefaultFilter, awatch

from orch_tui.orchestration.errors import OrchError

Batch = set[str] | None
"""Absolute paths that changed; empty: the timeout passed quietly; None: look at everything."""

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_IN_Q_OVERFLOW, _IN_IGNORED, _IN_ISDIR = 0x4000, 0x8000, 0x40000000
_IN_ONLYDIR, _IN_DONT_FOLLOW, _IN_EXCL_UNLINK = 0x01000000, 0x02000000, 0x04000000
_WATCHED = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE
            | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW | _IN_EXCL_UNLINK)
_EVENT_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name
_READ_BYTES = 16 * 1024
"""A read's worth of events (~500) is handled in one callback; a burst of thousands is taken
in several, so the loop runs other callbacks between them."""
_KEEP_IT = " (and in /etc/sysctl.d/ to keep it); the lane goes on without a live diff meanwhile"
_WATCHES_FIX = "raise the limit: sudo sysctl fs.inotify.max_user_watches=524288" + _KEEP_IT
_INSTANCES_FIX = "raise the limit: sudo sysctl fs.inotify.max_user_instances=1024" + _KEEP_IT


class TreeWatch(Protocol):
    """What the live diff needs from a watch (see the module docstring)."""

    async def __aenter__(self) -> TreeWatch: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def __aiter__(self) -> AsyncIterator[Batch]: ...


def open_tree_watch(root: Path, *, quiet_ms: int, debounce_ms: int, timeout_seconds: float,
                    backend: str = "auto") -> TreeWatch:
    """A watch of `root`, in place once `async with` entered. `backend`: "inotify",
    "watchfiles", or "auto" (inotify where the kernel has it)."""
    if backend == "inotify" or (backend == "auto" and _inotify_available()):
        return InotifyTreeWatch(root, quiet_ms=quiet_ms, debounce_ms=debounce_ms, timeout_seconds=timeout_seconds)
    return WatchfilesTreeWatch(root, quiet_ms=quiet_ms, debounce_ms=debounce_ms, timeout_seconds=timeout_seconds)


def _inotify_available() -> bool:
    return sys.platform.startswith("linux") and _libc() is not None


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL | None:
    global _LIBC
    if _LIBC is None:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            for name in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"):
                getattr(libc, name)
            libc.inotify_add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
            _LIBC = libc
    return _LIBC


def _ignored(relative: str, filter_: DefaultFilter) -> bool:
    """Whether the filter ignores a path (relative to the root: folders above it do not count)."""
    return not filter_(Change.modified, relative)


def _folders(top: str, filter_: DefaultFilter) -> list[str]:
    """`top` and every folder under it that the filter does not ignore (symlinks not followed)."""
    found = []
    for folder, subfolders, _files in os.walk(top):
        found.append(folder)
        subfolders[:] = [name for name in subfolders if name not in filter_.ignore_dirs]
    return found


class _Bursts:
    """Changed paths gathered into batches: a burst ends after a quiet spell or at its cap."""

    def __init__(self, quiet_ms: int, debounce_ms: int, timeout_seconds: float) -> None:
        self.quiet = max(quiet_ms, 1) / 1000
        self.cap = max(debounce_ms, quiet_ms, 1) / 1000
        self.timeout = timeout_seconds
        self.pending: set[str] = set()
        self.lost = False
        self.arrived = asyncio.Event()
        self.last = 0.0

    def add(self, path: str) -> None:
        self.pending.add(path)
        self.note()

    def lose(self) -> None:
        self.lost = True
        self.note()

    def note(self) -> None:
        self.last = asyncio.get_running_loop().time()
        self.arrived.set()

    async def next(self) -> Batch:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                await self.arrived.wait()
        except TimeoutError:
            return set()
        began = loop.time()
        while (wake := min(self.last + self.quiet, began + self.cap)) > loop.time():
            await asyncio.sleep(wake - loop.time())
        batch, lost = self.pending, self.lost
        self.pending, self.lost = set(), False
        self.arrived.clear()
        return None if lost else batch


class InotifyTreeWatch:
    """inotify on every folder of the tree (the ignored ones excepted), read on the loop."""

    def __init__(self, root: Path, *, quiet_ms: int, debounce_ms: int, timeout_seconds: float) -> None:
        self.root = os.path.realpath(root)
        self._bursts = _Bursts(quiet_ms, debounce_ms, timeout_seconds)
        self._filter = DefaultFilter()
        self._fd = -1
        self._folders: dict[int, str] = {}
        """Watch descriptor -> the folder it watches (absolute)."""
        self._adding: set[asyncio.Task[None]] = set()
        self._failure: OrchError | None = None
        """A folder that appeared could not be watched (the system's limit reached): the
        watch is no longer complete."""

    async def __aenter__(self) -> InotifyTreeWatch:
        libc = _libc()
        if libc is None:
            raise OrchError("inotify is not available here")
        self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OrchError(f"cannot watch {self.root}: inotify_init1 failed: {os.strerror(ctypes.get_errno())}; "
                            + _INSTANCES_FIX)
        asyncio.get_running_loop().add_reader(self._fd, self._read)
        try:
            await self._add_tree(self.root)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._adding):
            task.cancel()
        if self._fd >= 0:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._fd)
            descriptor, self._fd = self._fd, -1
            # Closing an inotify descriptor waits for the kernel to retire its watches (an RCU
            # grace period, 40-60 ms measured here): a worker thread waits for it, neither the
            # loop nor the lane ending (nothing depends on the close; a failure would be
            # logged by asyncio as an unretrieved exception).
            loop.run_in_executor(None, os.close, descriptor)

    async def __aiter__(self) -> AsyncIterator[Batch]:
        """Batches until a new folder could not be watched: then one last look at everything,
        and the failure, which says why and what fixes it."""
        while self._failure is None:
            yield await self._bursts.next()
        raise self._failure

    async def _add_tree(self, top: str) -> None:
        """Watch `top` and the folders under it (found by a walk in a worker thread)."""
        for folder in await asyncio.to_thread(_folders, top, self._filter):
            self._add_watch(folder)

    def _add_watch(self, folder: str) -> None:
        libc = _libc()
        assert libc is not None and self._fd >= 0
        descriptor = libc.inotify_add_watch(self._fd, os.fsencode(folder), _WATCHED)
        if descriptor >= 0:
            self._folders[descriptor] = folder
            return
        error = ctypes.get_errno()
        if error == errno.ENOSPC:
            raise OrchError(f"cannot watch {folder}: the system's limit of inotify watches is reached; "
                            + _WATCHES_FIX)
        if error not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):  # gone meanwhile, or not ours to read
            raise OrchError(f"cannot watch {folder}: {os.strerror(error)}")

    def _read(self) -> None:
        """The descriptor is readable: every event waiting, in one read."""
        try:
            data = os.read(self._fd, _READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            self._bursts.lose()
            return
        offset = 0
        while offset + _EVENT_HEADER.size <= len(data):
            descriptor, mask, _cookie, length = _EVENT_HEADER.unpack_from(data, offset)
            start = offset + _EVENT_HEADER.size
            name = os.fsdecode(data[start:start + length].rstrip(b"\0"))
            offset = start + length
            self._on_event(descriptor, mask, name)

    def _on_event(self, descriptor: int, mask: int, name: str) -> None:
        if mask & _IN_Q_OVERFLOW:
            self._bursts.lose()
            return
        folder = self._folders.get(descriptor)
        if folder is None:
            return  # a folder given up (moved away or deleted)
        if mask & _IN_IGNORED:
            del self._folders[descriptor]
            return
        if mask & (_IN_DELETE_SELF | _IN_MOVE_SELF):
            if folder == self.root:
                self._bursts.lose()  # the worktree itself went: nothing below can be trusted
            return
        path = os.path.join(folder, name) if name else folder
        if path != self.root and _ignored(path[len(self.root) + 1:], self._filter):
            return
        if mask & _IN_ISDIR:
            if mask & _IN_MOVED_FROM:
                self._give_up_under(path)
            elif mask & (_IN_CREATE | _IN_MOVED_TO):
                self._watch_new_folder(path)
        self._bursts.add(path)

    def _give_up_under(self, moved: str) -> None:
        """A folder moved away: its watches follow it, so their names would be wrong."""
        prefix = moved + os.sep
        for descriptor, folder in list(self._folders.items()):
            if folder == moved or folder.startswith(prefix):
                del self._folders[descriptor]

    def _watch_new_folder(self, folder: str) -> None:
        """Watch a folder that appeared; once watched, report it again: what was written in it
        before its watch was in place is then staged too."""
        async def add() -> None:
            try:
                await self._add_tree(folder)
            except OrchError as error:
                self._failure = error
                self._bursts.lose()
                return
            self._bursts.add(folder)

        task = asyncio.get_running_loop().create_task(add())
        self._adding.add(task)
        task.add_done_callback(self._adding.discard)


class WatchfilesTreeWatch:
    """The same batches from watchfiles (where inotify is not available)."""

    def __init__(self, root: Path, *, quiet_ms: int, debounce_ms: int, timeout_seconds: float) -> None:
        self._changes = awatch(root, watch_filter=DefaultFilter(), debounce=max(1, debounce_ms),
                               step=max(1, quiet_ms), rust_timeout=max(1, round(timeout_seconds * 1000)),
                               yield_on_timeout=True)
        self._first: asyncio.Future[set[tuple[Change, str]]] | None = None

    async def __aenter__(self) -> WatchfilesTreeWatch:
        self._first = asyncio.ensure_future(anext(self._changes))
        await asyncio.sleep(0)  # the watch is built when the generator first runs
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._first is not None:  # the generator may still be running inside it
            self._first.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await self._first
        await self._changes.aclose()

    async def __aiter__(self) -> AsyncIterator[Batch]:
        if self._first is not None:
            first, self._first = self._first, None
            yield {path for _change, path in await first}
        async for changes in self._changes:
            yield {path for _change, path in changes}
