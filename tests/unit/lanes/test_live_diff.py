"""Live diff events from a real worktree: new files, commits, binaries, truncation, alerts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import AsyncIterator, Callable

import pytest

from orch_tui.orchestration.events import Event, LaneAlert, LaneDiff
from orch_tui.orchestration.infra.background_threads import BACKGROUND_NICE
from orch_tui.orchestration.lanes.live_diff import SETTLE_REASON, LaneDiffWatcher, compute_diff
from tests.support.helpers import git, make_repo


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def diffs(self) -> list[LaneDiff]:
        return [event for event in self.events if isinstance(event, LaneDiff)]

    def alerts(self) -> list[LaneAlert]:
        return [event for event in self.events if isinstance(event, LaneAlert)]

    async def until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        async def poll() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(poll(), timeout)


@pytest.fixture
def worktree(tmp_path: Path) -> tuple[Path, str]:
    repo = make_repo(tmp_path / "repo", {"src/app.py": "print('hi')\n", "docs/guide.md": "# Guide\n"})
    lane = tmp_path / "lane-1"
    git(repo, "worktree", "add", "-q", "-b", "orch/bd-1", str(lane))
    return lane, git(repo, "rev-parse", "HEAD")


@pytest.fixture(params=[False, True], ids=["first-diff-by-git", "known-clean-at-start"])
async def watching(worktree: tuple[Path, str], request: pytest.FixtureRequest
                   ) -> AsyncIterator[tuple[Path, Recorder]]:
    """A watcher on a lane just reset to its base; the engine tells it so (`starts_clean`),
    which must change nothing a person sees."""
    path, base = worktree
    recorder = Recorder()
    watcher = LaneDiffWatcher(1, "bd-1", path, base, ("src/**",), recorder, debounce_ms=50,
                              starts_clean=request.param)
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.wait_ready(), 20)
    yield path, recorder
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_first_event_shows_the_worktree_as_it_is(watching: tuple[Path, Recorder]) -> None:
    _, recorder = watching
    assert recorder.diffs()[0].diff == "" and recorder.diffs()[0].files == ()


async def test_new_untracked_file_arrives_as_a_diff_without_touching_the_index(
        watching: tuple[Path, Recorder]) -> None:
    path, recorder = watching
    (path / "src" / "new.py").write_text("x = 1\n")
    await recorder.until(lambda: any("src/new.py" in diff.files for diff in recorder.diffs()))
    latest = recorder.diffs()[-1]
    assert "+x = 1" in latest.diff
    assert git(path, "status", "--porcelain") == "?? src/new.py"  # still untracked in the lane's index


async def test_edits_and_agent_commits_are_measured_against_the_base(watching: tuple[Path, Recorder]) -> None:
    path, recorder = watching
    (path / "src" / "app.py").write_text("print('bye')\n")
    git(path, "commit", "-q", "-am", "agent commit")
    (path / "src" / "more.py").write_text("y = 2\n")
    await recorder.until(lambda: set(recorder.diffs()[-1].files) == {"src/app.py", "src/more.py"})
    diff = recorder.diffs()[-1].diff
    assert "-print('hi')" in diff and "+print('bye')" in diff and "+y = 2" in diff


async def test_edit_outside_the_reservation_alerts_once_per_path(watching: tuple[Path, Recorder]) -> None:
    path, recorder = watching
    (path / "docs" / "guide.md").write_text("# Guide\nchanged\n")
    await recorder.until(lambda: bool(recorder.alerts()))
    (path / "docs" / "guide.md").write_text("# Guide\nchanged again\n")
    (path / "src" / "ok.py").write_text("fine = True\n")
    await recorder.until(lambda: "src/ok.py" in recorder.diffs()[-1].files)
    alerts = recorder.alerts()
    assert [alert.paths for alert in alerts] == [("docs/guide.md",)]
    assert "outside its reservation" in alerts[0].message


def test_binary_files_are_summarised_and_huge_diffs_truncated(worktree: tuple[Path, str]) -> None:
    path, base = worktree
    (path / "src" / "logo.png").write_bytes(bytes(range(256)) * 4)
    (path / "src" / "big.txt").write_text("".join(f"line {n}\n" for n in range(20000)))
    snapshot = compute_diff(path, base, max_bytes=10_000)
    assert "Binary file src/logo.png changed (1024 bytes)" in snapshot.diff
    assert snapshot.truncated
    assert len(snapshot.diff.encode()) < 10_200
    assert "+line 0\n" in snapshot.diff and "+line 19999" not in snapshot.diff
    assert snapshot.diff.endswith("[diff truncated: 229156 bytes in full, limit 10000]\n")
    assert snapshot.files == ("src/big.txt", "src/logo.png")


def test_odd_file_names_are_listed_exactly_beside_their_patch(worktree: tuple[Path, str]) -> None:
    path, base = worktree
    (path / "src" / "with space.py").write_text("a = 1\n")
    (path / "src" / "new\nline.py").write_text("b = 2\n")
    (path / "docs" / "guide.md").unlink()
    snapshot = compute_diff(path, base)
    assert snapshot.files == ("docs/guide.md", "src/new\nline.py", "src/with space.py")
    assert "+a = 1" in snapshot.diff and "+b = 2" in snapshot.diff and "-# Guide" in snapshot.diff


async def test_refreshes_at_the_same_moment_all_see_the_diff(worktree: tuple[Path, str]) -> None:
    """The lane's end asks for a last diff while the watcher's own refresh may run: they take
    turns on the watcher's private index instead of failing on its lock."""
    path, base = worktree
    recorder = Recorder()
    watcher = LaneDiffWatcher(1, "bd-1", path, base, ("src/**",), recorder, debounce_ms=50)
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.wait_ready(), 20)
    (path / "src" / "app.py").write_text("print('bye')\n")
    snapshots = await asyncio.gather(*(watcher.refresh() for _ in range(4)))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(snapshot is not None and snapshot.files == ("src/app.py",) for snapshot in snapshots)
    assert "+print('bye')" in recorder.diffs()[-1].diff


async def test_the_watcher_stages_only_what_changed_and_the_last_diff_scans_everything(
        worktree: tuple[Path, str]) -> None:
    """After the first diff each refresh stages only the paths the watcher reported (a deleted
    file and a file in a new folder included); the lane's last diff, asked for once the watcher
    stopped, scans the whole tree and so also shows a change the watcher never saw."""
    path, base = worktree
    recorder = Recorder()
    watcher = LaneDiffWatcher(1, "bd-1", path, base, ("src/**",), recorder, debounce_ms=50)
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.wait_ready(), 20)
    (path / "docs" / "guide.md").unlink()
    (path / "src" / "new" / "deep").mkdir(parents=True)
    (path / "src" / "new" / "deep" / "mod.py").write_text("deep = True\n")
    await recorder.until(lambda: set(recorder.diffs()[-1].files) == {"docs/guide.md", "src/new/deep/mod.py"})
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    costs = [cost for cost in watcher.recent_costs if cost.full_reason != SETTLE_REASON]
    assert costs[0].full_reason == "first refresh"
    assert len(costs) > 1 and not any(cost.full for cost in costs[1:])
    (path / "src" / "unseen.py").write_text("unseen = 1\n")
    last = await watcher.refresh()
    assert last is not None and last.files == ("docs/guide.md", "src/new/deep/mod.py", "src/unseen.py")
    assert "-# Guide" in last.diff and "+deep = True" in last.diff and "+unseen = 1" in last.diff
    assert watcher.recent_costs[-1].full


async def test_what_the_watcher_does_not_see_shows_once_the_lane_is_quiet(worktree: tuple[Path, str]) -> None:
    """The watcher ignores folders such as node_modules; a project that commits one still sees
    its changes: after limited refreshes, a quiet lane gets one scan of the whole tree."""
    path, base = worktree
    recorder = Recorder()
    watcher = LaneDiffWatcher(1, "bd-1", path, base, ("src/**",), recorder, debounce_ms=50, settle_seconds=0.3,
                              settle_every_seconds=0.3)
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.wait_ready(), 20)
    (path / "node_modules" / "left-pad").mkdir(parents=True)
    (path / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
    (path / "src" / "app.py").write_text("print('bye')\n")
    await recorder.until(lambda: "node_modules/left-pad/index.js" in recorder.diffs()[-1].files)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert recorder.diffs()[-1].files == ("node_modules/left-pad/index.js", "src/app.py")
    assert watcher.recent_costs[-1].full_reason == SETTLE_REASON


async def test_a_quiet_lane_is_scanned_in_full_at_most_every_settle_every_seconds(
        worktree: tuple[Path, str]) -> None:
    """An agent pausing between edits does not cost a scan of the whole tree for each edit."""
    path, base = worktree
    recorder = Recorder()
    watcher = LaneDiffWatcher(1, "bd-1", path, base, ("src/**",), recorder, debounce_ms=50, settle_seconds=0.1,
                              settle_every_seconds=3600)
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.wait_ready(), 20)
    (path / "src" / "app.py").write_text("print('bye')\n")
    await recorder.until(lambda: recorder.diffs()[-1].files == ("src/app.py",))
    await asyncio.sleep(0.5)  # several quiet periods
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    reasons = [cost.full_reason for cost in watcher.recent_costs]
    assert reasons[0] == "first refresh" and len(reasons) > 1 and not any(reasons[1:])  # no settling scan


async def test_a_cancelled_refresh_ends_only_once_its_git_work_has() -> None:
    """A lane stopped mid-refresh must not leave a worker thread starting git in it after."""
    import threading

    from orch_tui.orchestration.lanes.live_diff import _to_the_end

    done = threading.Event()

    def git_work() -> str:
        time.sleep(0.3)
        done.set()
        return "diff"

    refresh = asyncio.ensure_future(_to_the_end(asyncio.to_thread(git_work)))
    await asyncio.sleep(0.05)
    refresh.cancel()
    with pytest.raises(asyncio.CancelledError):
        await refresh
    assert done.is_set()


async def test_the_gits_of_a_live_diff_yield_the_cpu_to_orch_tui_and_the_agents(
        worktree: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live diff is background work: its gits run at nice +10 (Linux), so six busy lanes'
    gits no longer keep the dashboard waiting for a core (tests/benchmarks/bench_load_repo.py)."""
    path, base = worktree
    log = tmp_path / "nice.log"
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    real_git = shutil.which("git")
    (wrappers / "git").write_text(f'#!/bin/sh\necho "$(nice) $1" >> "{log}"\nexec "{real_git}" "$@"\n')
    (wrappers / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    recorder = Recorder()
    watcher = LaneDiffWatcher(1, "bd-1", path, base, ("src/**",), recorder, debounce_ms=50)
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.wait_ready(), 20)
        (path / "src" / "new.py").write_text("x = 1\n")
        await recorder.until(lambda: any("src/new.py" in diff.files for diff in recorder.diffs()))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    watched = [int(line.split()[0]) for line in log.read_text().splitlines()]
    await watcher.refresh()  # the engine waits on this one (a lane's last diff): no lower priority
    asked = [int(line.split()[0]) for line in log.read_text().splitlines()][len(watched):]
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert watched and asked, "the live diff ran no git"
    assert set(watched) == {min(19, ours + BACKGROUND_NICE)}, watched
    assert set(asked) == {ours}, asked
