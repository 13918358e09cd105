from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.engine.instance_lock import AlreadyRunning, InstanceLock
from orch_tui.orchestration.engine.journal import Journal, JournalState, LaneRecord, MergeRecord
from orch_tui.orchestration.states import LaneState, MergeStatus


def test_journal_round_trip_under_the_git_directory(repo: Path) -> None:
    journal = Journal(repo)
    assert journal.load() is None
    state = JournalState(state="running", batch=["bd-1", "bd-2"],
                         lanes=[LaneRecord(1, "bd-1", "orch/bd-1", "/tmp/l1", "abc")],
                         merges=[MergeRecord("bd-2", "orch/bd-2", state="conflict")])
    journal.save(state)
    assert journal.path.parent.parent == repo / ".git"
    loaded = journal.load()
    assert loaded is not None
    assert loaded.lane(1).branch == "orch/bd-1"
    assert loaded.merge_record("bd-2").state == "conflict"
    assert not [name for name in os.listdir(journal.path.parent) if name.endswith(".tmp")]


def test_a_journal_written_before_the_one_vocabulary_still_loads(repo: Path) -> None:
    """Older journals called a failed verification `check-failed`; the states load as enums."""
    journal = Journal(repo)
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    journal.path.write_text(json.dumps({
        "version": 1, "state": "waiting_for_person", "batch": ["bd-1", "bd-2"],
        "lanes": [{"lane": 1, "task_id": "bd-1", "branch": "orch/bd-1", "worktree": "/w1", "base": "abc",
                   "status": "committed", "outcome": "succeeded"}],
        "merges": [{"task_id": "bd-1", "branch": "orch/bd-1", "state": "check-failed"},
                   {"task_id": "bd-2", "branch": "orch/bd-2", "state": "merged", "commit": "def"}]}))
    loaded = journal.load()
    assert loaded is not None
    assert loaded.lane(1).status is LaneState.COMMITTED
    assert loaded.merge_record("bd-1").state is MergeStatus.VERIFY_FAILED
    assert loaded.merge_record("bd-2").state is MergeStatus.MERGED
    journal.save(loaded)
    assert json.loads(journal.path.read_text())["merges"][0]["state"] == "verify_failed"


def test_a_journal_with_an_unknown_state_names_it_and_the_file(repo: Path) -> None:
    journal = Journal(repo)
    journal.save(JournalState(merges=[MergeRecord("bd-1", "orch/bd-1")]))
    data = json.loads(journal.path.read_text())
    data["merges"][0]["state"] = "half-merged"
    journal.path.write_text(json.dumps(data))
    with pytest.raises(OrchError, match="journal.json: cannot read .*unknown merge state 'half-merged'"):
        journal.load()


def test_unreadable_journal_says_which_file_and_what_to_do(repo: Path) -> None:
    journal = Journal(repo)
    journal.path.write_text("{not json")
    with pytest.raises(OrchError, match="journal.json: cannot read .* move the file aside"):
        journal.load()


def test_second_orchestrator_is_refused_with_the_first_ones_pid(repo: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path;"
         "from orch_tui.orchestration.engine.instance_lock import InstanceLock;"
         "lock = InstanceLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True);"
         "time.sleep(60)", str(repo)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert InstanceLock(repo).is_held()
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}"):
            InstanceLock(repo).acquire()
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL released the lock: a new orchestrator may start.
    assert not InstanceLock(repo).is_held()
    with InstanceLock(repo):
        pass
