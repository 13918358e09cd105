"""Reading a Beads JSONL file (`.beads/issues.jsonl`, legacy `.beads/beads.jsonl`).

Every physical line is kept as bytes so writers can leave untouched lines exactly as they
were; a line that cannot be read becomes a problem in the graph (with path and line
number) and the rest of the file still loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .beads_records import RecordError, is_issue_record, task_from_record
from .errors import BadInput, InputProblem
from .model import Task, TaskGraph

MALFORMED_FIX = "correct or delete that line; orch-tui keeps it unchanged when it writes the file"
DUPLICATE_FIX = ("delete the older copy (a `merge=union` git merge often leaves both); "
                 "orch-tui updates the copy it uses")
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


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


def parse_jsonl_bytes(path: Path, data: bytes) -> ParsedJsonl:
    """Parse a whole file's bytes; never raises for bad lines (they become problems)."""
    lines = split_lines(data)
    graph = TaskGraph(source=str(path))
    tasks = graph.tasks
    line_of: dict[str, int] = {}
    loads = json.loads
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = loads(line)
            if isinstance(record, dict) and not is_issue_record(record):
                continue
            task = task_from_record(record)
        except (ValueError, RecordError) as error:  # JSONDecodeError, UnicodeDecodeError
            graph.problems.append(InputProblem(path, index + 1, _describe(error), MALFORMED_FIX))
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
    return ParsedJsonl(path, lines, graph, line_of)


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


def read_jsonl(path: Path) -> ParsedJsonl:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"Beads file {path} does not exist", path=path,
                       fix="create it with `bd init` or `bd export -o .beads/issues.jsonl`") from None
    except OSError as error:
        raise BadInput(f"cannot read Beads file {path}: {error.strerror}", path=path) from None
    return parse_jsonl_bytes(path, data)


def load_jsonl(path: Path) -> TaskGraph:
    """Pure read of one Beads JSONL file. Malformed lines go in `graph.problems`."""
    return read_jsonl(Path(path)).graph
