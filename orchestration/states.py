"""Where the engine, a lane and a merge are: one vocabulary each for the journal
(engine/journal.py), the snapshot (commands.LaneView / MergeView), the merge queue's
outcome (merging/queue.MergeOutcome) and the UI, which labels them for people.

Values are what the journal stores; `parse` also reads the words older journals used.
"""

from __future__ import annotations

from enum import StrEnum


class EngineState(StrEnum):
    """The engine's state (engine/core.py; ARCHITECTURE.md draws the transitions)."""

    IDLE = "idle"
    PROPOSED = "proposed"
    RUNNING = "running"
    MERGING = "merging"
    WAITING_FOR_PERSON = "waiting_for_person"
    """A merge conflict or a failed check: the queue waits until a person resolves it."""
    PAUSED = "paused"


class LaneState(StrEnum):
    # What the journal records of a lane (engine/journal.LaneRecord.status).
    DISPATCHING = "dispatching"
    """Given a worktree and a task; its agent not started yet."""
    RUNNING = "running"
    """Its agent started (the journal's word until the lane ends)."""
    COMMITTED = "committed"
    """Ended: outcome set, leftovers committed on its branch."""
    # What the lane shows while it runs (commands.LaneView.status; agents say it in LaneProgress).
    IDLE = "idle"
    STARTING = "starting"
    SETUP = "setup"
    """The lane's setup command runs."""
    BUSY = "busy"
    RETRY = "retry"
    """The agent's model request failed and is tried again."""
    WAITING = "waiting"
    """The lane waits for its turn (sequential mode) or for a reservation."""
    CHECKING = "checking"
    """The lane check runs after the agent."""
    ERROR = "error"
    """The agent reported an error; the lane ends with an outcome soon."""
    NEEDS_INPUT = "needs-input"
    """The agent waits for a person (a permission or a question)."""
    STALLED = "stalled"
    """The agent has said nothing for a while; it keeps running."""
    # How it ended (the values of events.LaneOutcome).
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    ABORTED = "aborted"

    @classmethod
    def parse(cls, text: str) -> LaneState:
        """A stored or reported word; raises ValueError naming it when it is none of these."""
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown lane state {text!r}") from None

    @classmethod
    def from_agent(cls, text: str) -> LaneState:
        """What an agent reports (OpenCode's session status: idle, busy, retry); a word
        outside this vocabulary means the agent is at work."""
        try:
            return cls(text)
        except ValueError:
            return cls.BUSY


class MergeStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its turn in the queue."""
    PREDICTED_CLEAN = "predicted_clean"
    PREDICTED_CONFLICT = "predicted_conflict"
    """`git merge-tree` says how it would merge now (the snapshot only)."""
    MERGING = "merging"
    CONFLICT = "conflict"
    """Stopped on a conflict: a person resolves it or aborts."""
    VERIFY_FAILED = "verify_failed"
    """Stopped: the merged tree's check failed, or a merge step failed (a person continues or aborts)."""
    HELD = "held"
    """Held: its lane's check failed (a person merges anyway, retries or drops)."""
    CHECKOUT_DIRTY = "checkout_dirty"
    """Merged, but the person's checkout of the target refused to move."""
    TARGET_MOVED = "target_moved"
    """The target moved while merging; the merge is tried again."""
    MERGED = "merged"
    ALREADY_MERGED = "already_merged"
    SKIPPED = "skipped"
    """Not merged and not to be (a person dropped it, retried it, or aborted the merge)."""
    SENT_BACK = "sent_back"
    DROPPED = "dropped"
    """A person answered a held merge: back to an agent, or dropped (the snapshot only)."""

    @classmethod
    def parse(cls, text: str) -> MergeStatus:
        """A stored word, including older journals' (`check-failed` with a hyphen)."""
        word = _OLD_MERGE_WORDS.get(text, text.replace("-", "_"))
        try:
            return cls(word)
        except ValueError:
            raise ValueError(f"unknown merge state {text!r}") from None


_OLD_MERGE_WORDS = {"check-failed": MergeStatus.VERIFY_FAILED.value}
"""Journals written before the one vocabulary called a failed verification `check-failed`."""
