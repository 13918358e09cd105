"""Reading a Beads JSONL file (`.beads/issues.jsonl`, legacy `.beads/beads.jsonl`).

Every physical line is kept as bytes so writers can leave untouched lines exactly as they
were; a line that cannot be read becomes a problem in the graph (with path and line
number) and the rest of the file still loads.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import msgspec

from orch_tui.orchestration.infra.atomic import write_atomically
from orch_tui.orchestration.infra.gc_pause import gc_paused
from orch_tui.orchestration.tracker.directory_lock import directory_lock
from orch_tui.orchestration.tracker.grouped_updates import PendingUpdate, UpdateQueue
from orch_tui.orchestration.tracker.beads_line_edit import REMOVE, encode_like_go, splice_members
from orch_tui.orchestration.tracker.beads_records import (RecordError, decode_issue_line, is_issue_record,
                                                          task_from_line, task_from_record)
from orch_tui.orchestration.errors import BadInput, InputProblem, OrchError
from orch_tui.orchestration.model import BLOCKING_TYPES, Task, TaskGraph
from orch_tui.orchestration.tracker.task_safety import (CASE_FIX, ID_FIX, PATTERN_FIX, case_twins, files_problem, id_problem,
                          might_escape)

MALFORMED_FIX = "correct or delete that line; orch-tui keeps it unchanged when it writes the file"
DUPLICATE_FIX = ("delete the older copy (a `merge=union` git merge often leaves both); "
                 "orch-tui updates the copy it uses")
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
_BOM_BYTES = "\ufeff".encode()


@dataclass
class ParsedJsonl:
    """A file's lines and what they mean: the graph, and which line holds each task."""

    path: Path
    lines: list[bytes]
    """Physical lines with their line endings, exactly as read."""
    graph: TaskGraph
    line_of: dict[str, int] = field(default_factory=dict)
    """Task id -> index in `lines` of the copy the graph uses."""


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their `\\n` endings kept (a lone `\\r` is not a line break in JSONL)."""
    lines = data.split(b"\n")
    last = lines.pop()
    result = [line + b"\n" for line in lines]
    if last:
        result.append(last)
    return result


def _newest(task: Task) -> datetime:
    stamp = task.updated_at
    if stamp is None:
        return _EARLIEST
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=timezone.utc)


def parse_jsonl_bytes(path: Path, data: bytes, *, keep_lines: bool = True) -> ParsedJsonl:
    """Parse a whole file's bytes; never raises for bad lines (they become problems).

    `keep_lines=False` (a pure read) leaves `lines` empty: only writers need the bytes."""
    with gc_paused():
        return _parse_lines(path, data, keep_lines)


_fast_decode = msgspec.json.Decoder().decode
_BLANK = object()
"""A line of Unicode whitespace only: skipped like an empty one."""


def _slow_record(line: bytes) -> Any:
    """The standard library's reading of a line msgspec refused, so that what is accepted and
    every message about a bad line stay exactly json's (NaN, lone surrogates, numbers out of
    range; UnicodeDecodeError for bytes that are not UTF-8)."""
    text = line.decode("utf-8")
    return _BLANK if text.isspace() else json.loads(text)


_SKIPPED = Task(id="", title="")
"""A line that holds no issue (blank, or another record kind): the loader moves on."""


def _is_utf8(line: bytes) -> bool:
    if line.isascii():  # most lines; checked a word at a time
        return True
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _typed_task(line: bytes) -> Task | None:
    """The line's Task when it has the usual shape (`beads_records.IssueLine`); None sends
    it down the dict path.

    The typed decoder does not check the UTF-8 of fields it skips, so a line that is not
    UTF-8 goes down the dict path too, where json's message names it."""
    if not _is_utf8(line):
        return None
    try:
        fields = decode_issue_line(line)
    except (ValueError, RecursionError):  # msgspec.DecodeError / ValidationError
        return None
    if not fields.is_issue:
        return _SKIPPED
    return task_from_line(fields, line)


def _task_by_dict(line: bytes) -> Task:
    """The line read into a dict (msgspec, json for what msgspec refuses) and then a Task;
    raises json's errors and RecordError for lines that hold no readable issue."""
    try:
        record = _fast_decode(line)
    except (ValueError, RecursionError):  # msgspec.DecodeError / ValidationError
        record = _slow_record(line)
        if record is _BLANK:
            return _SKIPPED
    if record.__class__ is dict and not is_issue_record(record):
        return _SKIPPED
    return task_from_record(record)


def _parse_lines(path: Path, data: bytes, keep_lines: bool = True) -> ParsedJsonl:
    lines = split_lines(data) if keep_lines else []
    graph = TaskGraph(source=str(path))
    tasks = graph.tasks
    line_of: dict[str, int] = {}
    # Each line's bytes go straight to msgspec (3x json.loads on valid lines, exact integers,
    # the same floats); only a line it refuses is read again by json. The split is the one
    # `split_lines` makes, so index i is line i + 1 either way.
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[0].startswith(_BOM_BYTES):
        raw_lines[0] = raw_lines[0][len(_BOM_BYTES):]  # editors on Windows add one
    for index, line in enumerate(raw_lines):
        if not line or line.isspace():
            continue
        task = _typed_task(line)
        if task is None:
            try:
                task = _task_by_dict(line)
            except (ValueError, RecordError) as error:  # JSONDecodeError, UnicodeDecodeError
                graph.problems.append(InputProblem(path, index + 1, _describe(error), MALFORMED_FIX))
                continue
            except RecursionError:  # `[[[[...` thousands deep: the decoder runs out of stack
                graph.problems.append(InputProblem(path, index + 1, "JSON nested too deeply to read",
                                                   MALFORMED_FIX))
                continue
        if task is _SKIPPED:
            continue
        previous = tasks.get(task.id)
        if previous is not None:
            kept_index = line_of[task.id]
            if _newest(task) < _newest(previous):
                graph.problems.append(_duplicate(path, task.id, index, kept_index))
                continue
            graph.problems.append(_duplicate(path, task.id, kept_index, index))
        tasks[task.id] = task
        line_of[task.id] = index
    _report_unsafe(path, graph, line_of)
    return ParsedJsonl(path, lines, graph, line_of)


def _report_unsafe(path: Path, graph: TaskGraph, line_of: dict[str, int]) -> None:
    """Unfinished issues whose id or `Files:` line would steer a lane outside the repository.

    They still load (the planner leaves them out with the same reason); the warning points at
    the line to fix.
    """
    twins = case_twins(line_of)
    for task_id, index in line_of.items():
        task = graph.tasks[task_id]
        if task.is_done:
            continue
        problem = id_problem(task_id)
        fix = ID_FIX
        if problem is None and task_id in twins:
            problem = f"its id differs from {twins[task_id]} only in case"
            fix = CASE_FIX
        if problem is None and task.description and might_escape(task.description):
            problem, fix = files_problem(task.declared_files), PATTERN_FIX
        if problem:
            graph.problems.append(InputProblem(
                path, index + 1, f"issue {task_id!r} is never proposed: {problem}", fix))


def _describe(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at column {error.colno})"
    if isinstance(error, UnicodeDecodeError):
        return "not valid UTF-8 text"
    return f"not a Beads issue ({error})"


def _duplicate(path: Path, task_id: str, ignored: int, used: int) -> InputProblem:
    return InputProblem(
        path, ignored + 1,
        f"issue {task_id} appears again on line {used + 1}; using line {used + 1} "
        "(the newer updated_at)", DUPLICATE_FIX)


def read_jsonl(path: Path, *, keep_lines: bool = True) -> ParsedJsonl:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"Beads file {path} does not exist", path=path,
                       fix="create it with `bd init` or `bd export -o .beads/issues.jsonl`") from None
    except IsADirectoryError:
        raise BadInput("the Beads file is a directory", path=path,
                       fix="move the directory away; the tracker is one JSONL file") from None
    except OSError as error:
        raise BadInput(f"cannot read the Beads file: {error.strerror}", path=path,
                       fix="make it readable by you (check its permissions and owner)") from None
    return parse_jsonl_bytes(path, data, keep_lines=keep_lines)


def load_jsonl(path: Path) -> TaskGraph:
    """Pure read of one Beads JSONL file. Malformed lines go in `graph.problems`."""
    return read_jsonl(Path(path), keep_lines=False).graph


# --- Writing -------------------------------------------------------------------------------
# Every write is read-modify-write under a lock on the `.beads/` directory: the file is
# re-read, only the lines that change get new bytes (unchanged members keep theirs), and
# the result replaces the file atomically (temporary file in the same directory, fsync,
# os.replace). Lines we could not parse are carried over verbatim.

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def utc_now_text() -> str:
    """Beads 1.x timestamp style: UTC, seconds, `Z`."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def id_prefix(task_ids: Iterable[str], configured: str | None = None) -> str:
    """The repository's issue prefix: the configured one, else the most common, else `bd`."""
    if configured:
        return configured
    counts = Counter(task_id.rsplit("-", 1)[0] for task_id in task_ids if "-" in task_id)
    return counts.most_common(1)[0][0] if counts else "bd"


def configured_prefix(beads_dir: Path) -> str | None:
    """`issue-prefix:` from `.beads/config.yaml`, when set (a plain scalar is enough here)."""
    try:
        text = (beads_dir / "config.yaml").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^issue-prefix:\s*['\"]?([A-Za-z0-9_.-]+)['\"]?\s*(#.*)?$", text,
                      re.MULTILINE)
    return match.group(1) if match else None


def new_task_id(prefix: str, taken: set[str], length: int = 4) -> str:
    """`<prefix>-<short base36 hash>`, longer when short ones keep colliding."""
    for attempt in range(60):
        size = length + attempt // 10
        candidate = f"{prefix}-" + "".join(secrets.choice(_BASE36) for _ in range(size))
        if candidate not in taken:
            return candidate
    raise OrchError(f"could not find a free issue id with prefix {prefix!r}")


def _line_ending(lines: list[bytes]) -> bytes:
    return b"\r\n" if lines and lines[0].endswith(b"\r\n") else b"\n"


class JsonlStore:
    """Beads data in one JSONL file, read and written by orch-tui itself."""

    kind = "jsonl"

    def __init__(self, path: Path, *, display_path: str | None = None, note: str = "") -> None:
        self.path = Path(path)
        shown = display_path or str(self.path)
        self.description = f"Beads JSONL file {shown}" + (f" ({note})" if note else "")
        self._updates: UpdateQueue[ParsedJsonl] = UpdateQueue()

    # -- reading --
    def load(self) -> TaskGraph:
        if not self.path.exists():
            return TaskGraph(source=str(self.path))
        return load_jsonl(self.path)

    def _read_current(self) -> ParsedJsonl:
        if not self.path.exists():
            return ParsedJsonl(self.path, [], TaskGraph(source=str(self.path)))
        return read_jsonl(self.path)

    # -- writing --
    def update(self, task_id: str, *, status: str | None = None, assignee: str | None = None,
               close_reason: str | None = None, note: str | None = None) -> None:
        if status is not None and (not isinstance(status, str) or not status.strip()):
            raise BadInput(f"cannot set an empty status on {task_id}")
        if status is None and assignee is None and close_reason is None and note is None:
            return

        def edit(parsed: ParsedJsonl) -> None:
            task = self._task(parsed, task_id)
            now = utc_now_text()
            changes: dict[str, Any] = {"updated_at": now}
            if status is not None:
                changes["status"] = status
                if status == "closed":
                    if task.status != "closed" or "closed_at" not in task.raw:
                        changes["closed_at"] = now
                elif "closed_at" in task.raw:
                    changes["closed_at"] = REMOVE  # reopened: bd clears closed_at
            if assignee is not None:
                changes["assignee"] = assignee if assignee else REMOVE
            if close_reason is not None:
                changes["close_reason"] = close_reason
            if note is not None:
                changes["notes"] = append_note(task.notes, note, now)
            self._replace_line(parsed, task_id, changes)

        self._update_with_others(PendingUpdate(task_id, edit))

    def create(self, title: str, *, description: str = "", priority: int = 2,
               issue_type: str = "task", labels: Sequence[str] = (),
               external_ref: str | None = None, parent: str | None = None) -> str:
        if not title.strip():
            raise BadInput("a new task needs a title")
        if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 4:
            raise BadInput(f"priority must be 0..4 (0 is most urgent), not {priority!r}")
        if not issue_type.strip():
            raise BadInput("a new task needs an issue type (task, bug, feature, ...)")
        created: list[str] = []

        def edit(parsed: ParsedJsonl) -> None:
            taken = set(parsed.graph.tasks)
            if parent is not None:
                self._task(parsed, parent)
                new_id = child_id(parent, taken)
            else:
                new_id = new_task_id(
                    id_prefix(taken, configured_prefix(self.path.parent)), taken)
            now = utc_now_text()
            record: dict[str, Any] = {"id": new_id, "title": title}
            if description:
                record["description"] = description
            record.update(status="open", priority=priority, issue_type=issue_type,
                          created_at=now, updated_at=now)
            if external_ref:
                record["external_ref"] = external_ref
            if labels:
                record["labels"] = list(labels)
            if parent is not None:
                record["dependencies"] = [{"issue_id": new_id, "depends_on_id": parent,
                                           "type": "parent-child", "created_at": now}]
            ending = _line_ending(parsed.lines)
            if parsed.lines and not parsed.lines[-1].endswith(b"\n"):
                parsed.lines[-1] += ending
            parsed.lines.append(encode_like_go(record).encode("utf-8") + ending)
            created.append(new_id)

        self._modify(edit)
        return created[0]

    def add_dependency(self, issue_id: str, depends_on_id: str, type: str = "blocks") -> None:
        if issue_id == depends_on_id:
            raise BadInput(f"{issue_id} cannot depend on itself")
        dep_type = type or "blocks"

        def edit(parsed: ParsedJsonl) -> None:
            task = self._task(parsed, issue_id)
            self._task(parsed, depends_on_id)
            if any(dep.depends_on_id == depends_on_id and dep.type == dep_type
                   for dep in task.dependencies):
                return
            if dep_type in BLOCKING_TYPES and _reaches(parsed.graph, depends_on_id, issue_id):
                raise BadInput(f"{issue_id} depending on {depends_on_id} ({dep_type}) would "
                               f"make a cycle: {depends_on_id} already waits for {issue_id}")
            now = utc_now_text()
            entries = task.raw.get("dependencies")
            entries = list(entries) if isinstance(entries, list) else []
            entries.append({"issue_id": issue_id, "depends_on_id": depends_on_id,
                            "type": dep_type, "created_at": now})
            self._replace_line(parsed, issue_id, {"dependencies": entries, "updated_at": now})

        self._modify(edit)

    # -- helpers --
    def _task(self, parsed: ParsedJsonl, task_id: str) -> Task:
        task = parsed.graph.tasks.get(task_id)
        if task is None:
            raise BadInput(f"there is no issue {task_id} in {self.path}", path=self.path,
                           fix="check the id (`orch-tui plan` lists the tasks)")
        return task

    def _replace_line(self, parsed: ParsedJsonl, task_id: str, changes: dict[str, Any]) -> None:
        index = parsed.line_of[task_id]
        line = parsed.lines[index]
        body = line.rstrip(b"\r\n")
        ending = line[len(body):]
        text = body.decode("utf-8")
        try:
            edited = splice_members(text, changes)
        except ValueError:  # json.loads read it, so this should not happen; re-encode whole
            record = dict(parsed.graph.tasks[task_id].raw)
            for key, value in changes.items():
                if value is REMOVE:
                    record.pop(key, None)
                else:
                    record[key] = value
            edited = encode_like_go(record)
        parsed.lines[index] = edited.encode("utf-8") + ending

    def _modify(self, edit: Callable[[ParsedJsonl], None]) -> None:
        with directory_lock(self._directory()):
            parsed = self._read_current()
            before = list(parsed.lines)
            edit(parsed)
            if parsed.lines != before:
                self._write(parsed)

    def _update_with_others(self, update: PendingUpdate[ParsedJsonl]) -> None:
        """`update`, written together with the others waiting (see grouped_updates)."""
        directory = self._directory()
        self._updates.add(update)
        try:
            while not update.done:
                with directory_lock(directory):
                    if not update.done:
                        self._write_group(self._updates.take_group())
        except BaseException as error:
            if self._updates.withdraw(update) or not isinstance(error, Exception):
                raise  # nothing was written for it (or an interruption, which goes on up)
            update.written.wait()  # another writer has it: its outcome is this update's
        if update.error is not None:
            raise update.error

    def _write_group(self, group: list[PendingUpdate[ParsedJsonl]]) -> None:
        try:
            parsed = self._read_current()
            before = list(parsed.lines)
            for update in group:
                lines = list(parsed.lines)
                try:
                    update.edit(parsed)
                except Exception as error:  # this update fails alone; the others are written
                    parsed.lines[:] = lines
                    update.error = error
            if parsed.lines != before:
                self._write(parsed)
        except Exception as error:  # reading or writing the file: every update of the group failed
            for update in group:
                update.error = update.error or error
        except BaseException:  # interrupted: none of them may return as if written
            for update in group:
                update.error = update.error or OrchError(f"writing {self.path} was interrupted")
            raise
        finally:
            for update in group:
                update.written.set()

    def _directory(self) -> Path:
        directory = self.path.parent
        if not directory.is_dir():
            raise BadInput(f"{directory} does not exist", path=directory,
                           fix="create it with `bd init` (or `mkdir .beads`)")
        return directory

    def _write(self, parsed: ParsedJsonl) -> None:
        # Through a symlink, replace its target and keep the link.
        write_atomically(self.path.resolve(), b"".join(parsed.lines))


def append_note(existing: str, note: str, stamp: str) -> str:
    """`existing` notes plus a timestamp line and `note`, separated by a blank line."""
    entry = f"[{stamp}] orch-tui\n{note.strip()}"
    return f"{existing.rstrip()}\n\n{entry}" if existing.strip() else entry


def child_id(parent: str, taken: set[str]) -> str:
    """The next free `<parent>.<n>` id, as bd numbers children."""
    numbers = [int(task_id[len(parent) + 1:]) for task_id in taken
               if task_id.startswith(parent + ".") and task_id[len(parent) + 1:].isdigit()]
    number = max(numbers, default=0) + 1
    while f"{parent}.{number}" in taken:
        number += 1
    return f"{parent}.{number}"


def _reaches(graph: TaskGraph, start: str, goal: str) -> bool:
    """Whether `start` already waits (through blocking edges) for `goal`."""
    stack, seen = [start], {start}
    while stack:
        task = graph.tasks.get(stack.pop())
        if task is None:
            continue
        for dep in task.dependencies:
            if dep.type not in BLOCKING_TYPES:
                continue
            if dep.depends_on_id == goal:
                return True
            if dep.depends_on_id not in seen:
                seen.add(dep.depends_on_id)
                stack.append(dep.depends_on_id)
    return False
