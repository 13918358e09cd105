"""The live diff's eyes: which paths changed, in batches, from inotify read on the event loop
(and from watchfiles where inotify is missing: both are run here)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from orch_tui.orchestration.lanes.tree_watch import Batch, TreeWatch, open_tree_watch

BACKENDS = ("inotify", "watchfiles")


def _watch(root: Path, backend: str, timeout_seconds: float = 5.0) -> TreeWatch:
    return open_tree_watch(root, quiet_ms=10, debounce_ms=50, timeout_seconds=timeout_seconds, backend=backend)


async def _changes_until(changes: object, wanted: set[str], seconds: float = 10.0) -> set[str]:
    """Paths reported until every wanted one was (a backend may split a burst in two)."""
    seen: set[str] = set()
    iterator = aiter(changes)  # type: ignore[call-overload]
    async with asyncio.timeout(seconds):
        while not wanted <= seen:
            batch: Batch = await anext(iterator)
            assert batch is not None, "no change was lost"
            seen |= batch
    return seen


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_written_file_and_a_new_folders_files_are_reported(tmp_path: Path, backend: str) -> None:
    root = tmp_path.resolve()
    (root / "src").mkdir()
    async with _watch(root, backend) as changes:
        (root / "src" / "a.py").write_text("a = 1\n")
        (root / "new" / "deep").mkdir(parents=True)
        (root / "new" / "deep" / "b.py").write_text("b = 2\n")
        seen = await _changes_until(changes, {str(root / "src" / "a.py"), str(root / "new")})
    # The new folder is reported once its watch is in place, so whatever was written in it
    # before then is staged with it; a later file there is reported by name.
    assert str(root / "src" / "a.py") in seen and str(root / "new") in seen


@pytest.mark.parametrize("backend", BACKENDS)
async def test_what_the_filter_ignores_is_never_reported_and_quiet_is_an_empty_batch(
        tmp_path: Path, backend: str) -> None:
    root = tmp_path.resolve()
    for folder in (".git", "node_modules/pkg", "__pycache__", ".venv/lib"):
        (root / folder).mkdir(parents=True)
    async with _watch(root, backend, timeout_seconds=0.5) as changes:
        (root / ".git" / "index").write_text("x")
        (root / "node_modules" / "pkg" / "index.js").write_text("x")
        (root / "__pycache__" / "m.cpython-311.pyc").write_text("x")
        (root / ".venv" / "lib" / "site.py").write_text("x")
        (root / "kept.txt").write_text("x")
        seen = await _changes_until(changes, {str(root / "kept.txt")})
        assert seen == {str(root / "kept.txt")}
        async with asyncio.timeout(5):
            assert await anext(aiter(changes)) == set()  # type: ignore[call-overload]


async def test_a_moved_folder_reports_its_files_under_their_new_name(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "old" / "inner").mkdir(parents=True)
    async with _watch(root, "inotify") as changes:
        (root / "old").rename(root / "renamed")
        await _changes_until(changes, {str(root / "old"), str(root / "renamed")})
        (root / "renamed" / "inner" / "c.py").write_text("c = 3\n")
        seen = await _changes_until(changes, {str(root / "renamed" / "inner" / "c.py")})
    assert not any(path.startswith(str(root / "old") + os.sep) for path in seen)


async def test_changes_the_kernel_could_not_queue_ask_for_a_look_at_everything(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    queued = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    async with _watch(root, "inotify") as changes:
        for number in range(queued + 100):  # the loop is not reading meanwhile
            (root / f"f{number}.txt").write_text("x")
        iterator = aiter(changes)  # type: ignore[call-overload]
        async with asyncio.timeout(20):
            while (batch := await anext(iterator)) is not None:  # bursts are cut at 50 ms
                assert batch, "the overflow was reported before the watch went quiet"


async def test_a_full_inotify_watch_table_is_named_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes
    import errno

    from orch_tui.orchestration.errors import OrchError
    from orch_tui.orchestration.lanes import tree_watch

    real = tree_watch._libc()
    assert real is not None

    class FullTable:
        inotify_init1 = real.inotify_init1
        inotify_rm_watch = real.inotify_rm_watch

        @staticmethod
        def inotify_add_watch(_fd: int, _path: bytes, _mask: int) -> int:
            ctypes.set_errno(errno.ENOSPC)
            return -1

    monkeypatch.setattr(tree_watch, "_LIBC", FullTable())
    with pytest.raises(OrchError, match=r"limit of inotify watches is reached.*fs\.inotify\.max_user_watches"):
        async with _watch(tmp_path, "inotify"):
            pass


async def test_a_new_folder_past_the_watch_limit_ends_the_watch_with_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit is reached mid-lane, by a folder the agent made: one last look at everything,
    then the watch says it is incomplete and how to fix it (it went on, silently blind to
    that folder)."""
    import ctypes
    import errno

    from orch_tui.orchestration.errors import OrchError
    from orch_tui.orchestration.lanes import tree_watch

    real = tree_watch._libc()
    assert real is not None
    root = tmp_path.resolve()

    class FillsUp:
        inotify_init1 = real.inotify_init1
        inotify_rm_watch = real.inotify_rm_watch
        full = False

        @classmethod
        def inotify_add_watch(cls, fd: int, path: bytes, mask: int) -> int:
            if cls.full:
                ctypes.set_errno(errno.ENOSPC)
                return -1
            return real.inotify_add_watch(fd, path, mask)

    monkeypatch.setattr(tree_watch, "_LIBC", FillsUp())
    async with _watch(root, "inotify") as changes:
        FillsUp.full = True
        (root / "made-by-the-agent").mkdir()
        iterator = aiter(changes)  # type: ignore[call-overload]
        async with asyncio.timeout(10):
            while (batch := await anext(iterator)) is not None:
                assert str(root / "made-by-the-agent") in batch
            with pytest.raises(OrchError, match=r"made-by-the-agent: the system's limit of inotify watches "
                                                r"is reached; raise the limit: sudo sysctl fs\.inotify\.max_user_watches"):
                await anext(iterator)
