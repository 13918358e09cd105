"""The bd store: Beads through its own CLI (`bd ... --json`), authoritative for Beads 1.x.

Every call is an argv list run in the repository with a timeout. bd reports errors on
stderr as JSON `{"error": ..., "code": ...}`; they become OrchError with bd's own message.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Sequence

from orch_tui.orchestration.infra.gc_pause import gc_paused
from orch_tui.orchestration.tracker.beads_records import RecordError, is_issue_record, task_from_record
from orch_tui.orchestration.errors import BadInput, InputProblem, OrchError
from orch_tui.orchestration.model import TaskGraph

READ_TIMEOUT_SECONDS = 120.0
WRITE_TIMEOUT_SECONDS = 60.0
PROBE_TIMEOUT_SECONDS = 15.0
SHOW_BATCH = 100
"""Ids per `bd show` call when `bd list` gave only dependency counts."""


class BdError(OrchError):
    """bd ran and refused or failed; the message is bd's own."""

    def __init__(self, message: str, *, code: Any = None) -> None:
        self.code = code
        super().__init__(message)


def bd_error_message(stderr: str, stdout: str = "") -> tuple[str, Any]:
    """bd's `{"error", "code"}` JSON (on stderr, or stdout in some versions) or its raw text."""
    for stream in (stderr, stdout):
        text = stream.strip()
        if not text.startswith("{"):
            continue
        try:
            payload = json.loads(text)
        except ValueError:
            continue
        if isinstance(payload, dict) and payload.get("error"):
            return str(payload["error"]), payload.get("code")
    return (stderr.strip() or stdout.strip() or "no output"), None


class BdStore:
    """Beads through the `bd` executable (`binary` is its path)."""

    kind = "bd"

    def __init__(self, repo: Path, binary: str, *, version: str = "") -> None:
        self.repo = Path(repo)
        self.binary = binary
        label = f"bd {version} CLI" if version else "bd CLI"
        self.description = f"{label} ({binary})"

    def run(self, *args: str, timeout: float = WRITE_TIMEOUT_SECONDS) -> str:
        """Run `bd <args>` in the repository; stdout on success, BdError otherwise."""
        argv = [self.binary, *args]
        try:
            result = subprocess.run(argv, cwd=self.repo, capture_output=True, text=True,
                                    timeout=timeout, check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise BdError(f"`bd {' '.join(args[:2])}` did not finish within {timeout:.0f} s") from None
        except OSError as error:
            raise BdError(f"cannot run {self.binary}: {error.strerror}") from None
        if result.returncode != 0:
            message, code = bd_error_message(result.stderr, result.stdout)
            raise BdError(f"bd {args[0]} failed: {message}", code=code)
        return result.stdout

    def run_json(self, *args: str, timeout: float = WRITE_TIMEOUT_SECONDS) -> Any:
        output = self.run(*args, timeout=timeout)
        if not output.strip():
            return None
        try:
            return json.loads(output)
        except ValueError:
            raise BdError(f"bd {args[0]} printed something that is not JSON: "
                          f"{output.strip()[:200]}") from None

    # -- reading --
    def load(self) -> TaskGraph:
        records = self.run_json("list", "--json", "--all", "--limit", "0",
                                timeout=READ_TIMEOUT_SECONDS) or []
        if not isinstance(records, list):
            raise BdError("bd list --json did not print a JSON array")
        self._fill_dependencies(records)
        with gc_paused():
            return self._graph(records)

    def _graph(self, records: list[Any]) -> TaskGraph:
        graph = TaskGraph(source=self.description)
        for position, record in enumerate(records):
            if isinstance(record, dict) and not is_issue_record(record):
                continue
            try:
                task = task_from_record(record)
            except RecordError as error:
                graph.problems.append(InputProblem(
                    None, None, f"bd list: entry {position + 1} is not a Beads issue ({error})",
                    "run `bd doctor` to check the Beads database"))
                continue
            graph.tasks[task.id] = task
        return graph

    def _fill_dependencies(self, records: list[Any]) -> None:
        """Some bd versions list only `dependency_count`; fetch the edges with `bd show`."""
        missing = [record["id"] for record in records
                   if isinstance(record, dict) and isinstance(record.get("id"), str)
                   and not isinstance(record.get("dependencies"), list)
                   and (record.get("dependency_count") or 0) > 0]
        if not missing:
            return
        by_id = {record["id"]: record for record in records if isinstance(record, dict)}
        for start in range(0, len(missing), SHOW_BATCH):
            shown = self.run_json("show", *missing[start:start + SHOW_BATCH], "--json",
                                  timeout=READ_TIMEOUT_SECONDS) or []
            for detail in shown if isinstance(shown, list) else [shown]:
                if isinstance(detail, dict) and detail.get("id") in by_id:
                    by_id[detail["id"]]["dependencies"] = detail.get("dependencies") or []

    # -- writing --
    def update(self, task_id: str, *, status: str | None = None, assignee: str | None = None,
               close_reason: str | None = None, note: str | None = None) -> None:
        if status is not None and not status.strip():
            raise BadInput(f"cannot set an empty status on {task_id}")
        closing = status == "closed"
        if close_reason is not None and not closing:
            raise BadInput(f"bd records a close reason only when closing {task_id}",
                           fix="pass status='closed' with the reason")
        args = ["update", _positional(task_id)]
        if status is not None and not closing:
            args += ["--status", status]
        if assignee is not None:
            args += ["--assignee", assignee]
        if note is not None:
            args += ["--append-notes", note]
        if len(args) > 2:
            self.run(*args, "--json")
        if closing:
            args = ["close", _positional(task_id)]
            if close_reason is not None:
                args += ["--reason", close_reason]
            self.run(*args, "--json")

    def create(self, title: str, *, description: str = "", priority: int = 2,
               issue_type: str = "task", labels: Sequence[str] = (),
               external_ref: str | None = None, parent: str | None = None) -> str:
        if not title.strip():
            raise BadInput("a new task needs a title")
        args = ["create", "-t", issue_type, "-p", str(priority)]
        if description:
            args += ["-d", description]
        if labels:
            args += ["-l", ",".join(labels)]
        if external_ref:
            args += ["--external-ref", external_ref]
        if parent:
            args += ["--parent", parent]
        # The title goes after `--`: a title such as "--db=/elsewhere" (task text, e.g. from
        # an OpenSpec file) must stay a title, not become an option of bd. Flag values are
        # safe as they are: pflag takes the word after a flag as its value, whatever it is.
        created = self.run_json(*args, "--json", "--", title)
        if isinstance(created, list) and created:
            created = created[0]
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise BdError("bd create --json did not print the new issue's id")
        return str(created["id"])

    def add_dependency(self, issue_id: str, depends_on_id: str, type: str = "blocks") -> None:
        self.run("dep", "add", _positional(issue_id), _positional(depends_on_id), "-t", type or "blocks",
                 "--json")


def _positional(task_id: str) -> str:
    """An issue id as a positional argument of bd: one that bd could read as an option is refused."""
    if task_id.startswith("-"):
        raise BadInput(f"issue id {task_id!r} starts with '-', which bd would read as an option",
                       fix="rename the issue (ids start with a letter or a digit)")
    return task_id


def probe_bd(repo: Path, binary: str) -> tuple[str | None, str]:
    """(version or None, reason): whether `bd` answers `bd list` in this repository."""
    store = BdStore(repo, binary)
    try:
        output = store.run("version", timeout=PROBE_TIMEOUT_SECONDS)
        store.run_json("list", "--json", "--limit", "1", timeout=PROBE_TIMEOUT_SECONDS)
    except OrchError as error:
        return None, str(error)
    words = output.split()
    version = next((word.lstrip("v") for word in words if word[:1].isdigit()
                    or (word[:1] == "v" and word[1:2].isdigit())), "")
    return version, ""
