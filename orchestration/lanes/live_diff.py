"""Live diff of a lane's worktree: watch it, and on every change say what differs from the base.

`LaneDiffWatcher.run()` watches the worktree (`lanes/tree_watch.py`: inotify read on the
event loop; `.git`, virtual environments, node_modules and bytecode are ignored). A burst of changes becomes one
`LaneDiff` event once `QUIET_MS` pass without a new change (a longer burst is cut every
`debounce_ms`). The diff is against the lane's base commit and covers commits the agent
made, edits and untracked files; it is computed without touching the lane's own index (a
private copy of the index takes the worktree's changes, then `git diff --cached <base>`), in
a background thread whose gits yield the CPU to everything else (`infra/background_threads.py`). The watcher knows which paths changed, so a refresh stages only those, into
a tiny index of their own, diffs only them and splices their diffs into the last diff kept
per file (`lanes/scratch_index.py`, `lanes/file_diffs.py`: two short git processes that never
read the big index); the first refresh, one asked for from outside (the lane's last
diff) and any the watcher cannot vouch for scan the whole tree, and so does one after
`settle_seconds` of quiet following limited ones (at most every `settle_every_seconds`): what
the watcher does not see (a folder it ignores, an event the kernel dropped) shows within half
a minute, and the lane's last diff is complete. Binary files are summarised, a
huge diff is cut with a note. A file outside the lane's reserved patterns raises one
`LaneAlert` the first time it shows up (an empty reservation means nothing is out of bounds).
"""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from orch_tui.orchestration.events import EventSink, LaneAlert, LaneDiff
from orch_tui.orchestration.infra.background_threads import in_background
from orch_tui.orchestration.infra.git_exec import GitFailed
from orch_tui.orchestration.infra.patterns import path_matches
from orch_tui.orchestration.lanes.file_diffs import FileDiffs, UnsplittableDiff, parse_diff
from orch_tui.orchestration.lanes.scratch_index import ASKED_FOR_FULL, ScratchIndex, StagingCost
from orch_tui.orchestration.lanes.tree_watch import Batch, open_tree_watch

T = TypeVar("T")

MAX_DIFF_BYTES = 200_000
QUIET_MS = 10
"""A burst of changes is over after this long without a new one (`debounce_ms` caps a burst).
Short, so a person sees an edit soon after it; a refresh after a single edit costs ~5 ms of
git's CPU on a 20,000-file repository (two git processes on a tiny index)."""
SETTLE_SECONDS = 2.0
"""Quiet this long after limited refreshes, the whole tree is scanned once..."""
SETTLE_EVERY_SECONDS = 30.0
"""...at most this often (an agent pausing between edits would otherwise cost a scan an edit)."""
SETTLE_REASON = "quiet after limited refreshes: the whole tree checked"
LOST_REASON = "the watch may have missed changes (the kernel's queue of them overflowed)"


@dataclass(frozen=True)
class DiffSnapshot:
    diff: str
    files: tuple[str, ...]
    truncated: bool = False
    cost: StagingCost = field(default_factory=StagingCost, compare=False)
    """How it was computed (git processes, their times): not part of what a person sees."""


def _cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes, at a line end when there is one."""
    cut = text.encode()[:limit].decode(errors="ignore")
    return cut[: cut.rfind("\n") + 1] or cut


def _truncate(diff: str, limit: int) -> tuple[str, bool]:
    """Cap the diff at about `limit` bytes; each file gets a share, so none disappears."""
    total = len(diff.encode())
    if total <= limit:
        return diff, False
    chunks = diff.split("\ndiff --git ")
    share = max(limit // len(chunks), 1000)
    kept = []
    for chunk in chunks:
        size = len(chunk.encode())
        if size > share:
            chunk = _cut(chunk, share) + f"[... {size - share} more bytes of this file's diff not shown]"
        kept.append(chunk)
    text = "\ndiff --git ".join(kept)
    if len(text.encode()) > limit:
        text = _cut(text, limit)
    note = f"\n[diff truncated: {total} bytes in full, limit {limit}]\n"
    return text.rstrip("\n") + note, True


@dataclass
class RefreshState:
    """What a lane's refreshes keep between them: the private index and the last diff of each
    file (a limited refresh recomputes only its paths' diffs)."""

    index: ScratchIndex
    files: FileDiffs = field(default_factory=FileDiffs)


def compute_diff(worktree: Path, base_commit: str, max_bytes: int = MAX_DIFF_BYTES,
                 state: RefreshState | None = None, changed: Collection[str] | None = None,
                 why_full: str = ASKED_FOR_FULL) -> DiffSnapshot:
    """The worktree's diff against `base_commit`, tracked and untracked, index untouched.

    `state`: kept between calls (its scratch index, whose stat data git then trusts instead of
    re-reading every "racily clean" file of a fresh copy of the lane's index, and the last
    diff of each file). None: a new one, thrown away after.
    `changed`: the paths (relative to the worktree) changed since the last call with the same
    `state`; only they are staged and diffed. None: the whole tree is scanned (`why_full`
    says why).
    """
    folder = None
    if state is None:
        folder = Path(tempfile.mkdtemp(prefix="orch-tui-diff-"))
        state = RefreshState(ScratchIndex(folder))
    cost = StagingCost()
    try:
        if changed is not None and not state.files.complete:
            changed, why_full = None, "no full diff to splice into yet"
        staged = state.index.stage(worktree, changed, cost=cost, why_full=why_full)
        limit = ["--", *staged.paths] if staged.paths is not None else []
        # One process for both the names and the patch (the raw records come first).
        output = cost.timed("diff --cached" if staged.paths is None else "diff --cached paths", worktree, [
            "diff", "--cached", "--no-renames", "--no-ext-diff", "--no-color", "--raw", "-p", "-z",
            base_commit, *limit], env={"GIT_INDEX_FILE": str(staged.index)})
        try:
            diffs = parse_diff(output, worktree)
        except UnsplittableDiff as whole:
            if staged.paths is not None:
                return compute_diff(worktree, base_commit, max_bytes, state, None, f"limited diff: {whole}")
            state.files.replace_unsplit(whole)
        else:
            if staged.paths is None:
                state.files.replace_all(diffs)
            else:
                state.files.splice(staged.paths, diffs)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    diff, truncated = _truncate(state.files.patch(), max_bytes)
    return DiffSnapshot(diff, state.files.names(), truncated, cost)


async def _to_the_end(work: Awaitable[T]) -> T:
    """Await `work` (a worker thread's); cancelled, still wait for it before giving up: the
    thread would otherwise go on starting git in the lane after the lane (or orch-tui) said
    it had stopped."""
    running = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await asyncio.wait([running])
        if not running.cancelled():
            running.exception()  # looked at: the refresh is given up either way
        raise


class LaneDiffWatcher:
    """Emits LaneDiff on every settled change in a lane's worktree, LaneAlert for strays."""

    def __init__(self, lane: int, task_id: str, worktree: Path, base_commit: str,
                 reserved: tuple[str, ...], sink: EventSink, debounce_ms: int = 50,
                 max_bytes: int = MAX_DIFF_BYTES, *, starts_clean: bool = False,
                 settle_seconds: float = SETTLE_SECONDS,
                 settle_every_seconds: float = SETTLE_EVERY_SECONDS) -> None:
        """`starts_clean`: the worktree was just reset to `base_commit`, so the first diff is
        known to be empty and costs no git call (lanes of a batch start sooner)."""
        self.lane = lane
        self.task_id = task_id
        self.worktree = Path(worktree)
        self.base_commit = base_commit
        self.reserved = tuple(reserved)
        self.sink = sink
        self.debounce_ms = max(1, debounce_ms)
        self.max_bytes = max_bytes
        self.settle_seconds = settle_seconds
        self.settle_every_seconds = settle_every_seconds
        self._unsettled = False  # a limited refresh ran since the last full one
        self._last_full_scan = time.monotonic()  # (the first refresh is one)
        self._last: DiffSnapshot | None = None
        self._alerted: set[str] = set()
        self._ready = asyncio.Event()
        self._state: RefreshState | None = None
        self._starts_clean = starts_clean
        # Refreshes share one scratch index, so they take turns; a refresh asked for while
        # another waits is answered by that one, which starts after both were asked and
        # stages the paths of both (everything, when either asked for that).
        self._refreshing = asyncio.Lock()
        self._asked = 0
        self._covered = 0
        self._pending_paths: set[str] = set()
        self._pending_full = False
        self._why_full = ASKED_FOR_FULL
        self.recent_costs: collections.deque[StagingCost] = collections.deque(maxlen=1000)
        """How the latest refreshes were computed (the benchmark says where the time goes)."""

    async def wait_ready(self) -> None:
        """Returns once the first diff was sent and the watch is in place."""
        await self._ready.wait()

    async def run(self) -> None:
        """Watch until cancelled (the first event describes the worktree as it is now)."""
        folder = Path(tempfile.mkdtemp(prefix="orch-tui-diff-"))
        self._state = RefreshState(ScratchIndex(folder))
        try:
            await self._watch()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            self._state = None

    async def _watch(self) -> None:
        quiet = max(1, min(QUIET_MS, self.debounce_ms // 2))
        async with open_tree_watch(self.worktree, quiet_ms=quiet, debounce_ms=self.debounce_ms,
                                   timeout_seconds=self.settle_seconds) as changes:
            # The watch is in place: whatever changes from here on is seen.
            if self._starts_clean:
                self._publish(DiffSnapshot("", (), False))
            else:
                await self._refresh(None)
            self._ready.set()
            async for changed in changes:
                await self._on_changes(changed)

    async def _on_changes(self, changed: Batch) -> None:
        """A refresh of the changed paths; none (the watch timed out): the settling scan,
        once; None (changes may have been missed): a scan of everything."""
        if changed is None:
            await self._refresh(None, LOST_REASON)
        elif changed:
            await self._refresh(self._changed_paths(changed))
        elif self._pending_full or (
                self._unsettled and time.monotonic() - self._last_full_scan >= self.settle_every_seconds):
            await self._refresh(None, SETTLE_REASON)

    async def refresh(self) -> DiffSnapshot | None:
        """Compute the diff now from a scan of the whole worktree (or join a refresh that
        starts after this call); send it (and any alert) when it changed. Someone waits on
        this one (the engine, for a lane's last diff): it runs at the usual priority."""
        return await self._refresh(None, waited_on=True)

    async def _refresh(self, changed: set[str] | None, why_full: str = ASKED_FOR_FULL, *,
                       waited_on: bool = False) -> DiffSnapshot | None:
        """`changed`: the paths the watcher saw change (None: scan everything, `why_full`).
        Refreshes nobody waits on run in the background (`infra/background_threads.py`)."""
        if changed is None:
            self._pending_full = True
            self._why_full = why_full
        else:
            self._pending_paths |= changed
        self._asked += 1
        asked = self._asked
        async with self._refreshing:
            if self._covered >= asked:  # a refresh that started after this call has run
                return self._last
            self._covered = self._asked
            paths = None if self._pending_full else self._pending_paths
            why_full = self._why_full
            self._pending_full, self._pending_paths, self._why_full = False, set(), ASKED_FOR_FULL
            try:
                args = (self.worktree, self.base_commit, self.max_bytes, self._state, paths, why_full)
                work = asyncio.to_thread(compute_diff, *args) if waited_on else in_background(compute_diff, *args)
                snapshot = await _to_the_end(work)
            except (GitFailed, OSError):
                # The worktree is mid-reset or gone; the next change retries, scanning it all:
                # what changed since this one's paths is not known to have been staged.
                self._pending_full, self._why_full = True, "the refresh before failed"
                return None
            self.recent_costs.append(snapshot.cost)
            self._unsettled = not snapshot.cost.full
            if snapshot.cost.full:
                self._last_full_scan = time.monotonic()
            self._publish(snapshot)
            return snapshot

    def _changed_paths(self, changed: Iterable[str]) -> set[str] | None:
        """The watch's changed paths relative to the worktree (None when one is not inside
        it, or is the worktree itself: then everything is scanned)."""
        roots = {str(self.worktree), os.path.realpath(self.worktree)}
        paths = set()
        for path in changed:
            relative = next((os.path.relpath(path, root) for root in roots
                             if path.startswith(root + os.sep)), None)
            if relative is None or relative.startswith(".."):
                return None
            paths.add(relative)
        return paths

    def _publish(self, snapshot: DiffSnapshot) -> None:
        if snapshot != self._last:
            self._last = snapshot
            self.sink(LaneDiff(self.lane, self.task_id, snapshot.diff, snapshot.files, snapshot.truncated))
            self._check_reservation(snapshot.files)

    def _check_reservation(self, files: tuple[str, ...]) -> None:
        if not self.reserved:
            return
        strays = [path for path in files if path not in self._alerted
                  and not any(path_matches(path, pattern) for pattern in self.reserved)]
        if not strays:
            return
        self._alerted.update(strays)
        self.sink(LaneAlert(self.lane, self.task_id, tuple(strays),
                            f"lane {self.lane} ({self.task_id}) edited outside its reservation: "
                            + ", ".join(strays)))
