"""OpenSpec changes as Beads tasks: read a change's tasks.md and import its unchecked tasks.

Reading: the real `openspec` CLI (`openspec instructions apply --change ID --json`) decides
which lines are tasks and which are done when it is installed; tasks.md itself supplies what
the JSON leaves out (groups, detail lines under a task). Without the CLI the file alone is
read by the same rules (`## N. Group` headings, `- [ ] N.M text`, only `[x]`/`[X]` is done).

Importing: one Beads task per unchecked task; each task of a group depends on the unchecked
tasks of the nearest earlier group that has any, unless the change says otherwise:
- a task line or detail line `Depends on: 1.2, 1.3` (or `Depends on: none`) replaces the
  group rule for that task;
- a group heading containing `(parallel)` or `(independent)` starts a group that does not
  wait for the one before.
Declared files come from a `Files:` annotation (on the task line, in parentheses or not, or
on a detail line) or from backticked paths in the task text. Every task records
`openspec:<change-id>#<task-number>` as its external_ref, which makes a re-run idempotent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.model import TaskGraph, parse_declared_files

CHANGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_GROUP = re.compile(r"^#{2,}\s+(?P<title>.+?)\s*$")
_GROUP_NUMBER = re.compile(r"^(?P<number>\d+)\.?\s")
_TASK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[(?P<mark>[ xX])\]\s+(?P<text>.*?)\s*$")
_TASK_NUMBER = re.compile(r"^(?P<number>\d+(?:\.\d+)+)\.?\s+(?P<rest>.*)$")
_DEPENDS = re.compile(r"\(?\bdepends\s+on\s*:?\s*(?P<refs>[^)\n]*)\)?", re.IGNORECASE)
_FILES_INLINE = re.compile(r"\(?\bfiles\s*:\s*(?P<patterns>[^)\n]*)\)?", re.IGNORECASE)
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_PATHLIKE = re.compile(r"^(?![-/])[\w./*@+-]+$")
_PARALLEL_GROUP = re.compile(r"\((?:parallel|independent)\)", re.IGNORECASE)
CLI_TIMEOUT_SECONDS = 60.0


@dataclass
class OpenSpecTask:
    """One checkbox line of tasks.md, with what the importer needs."""

    number: str  # "1.2", or the position ("3") when the line has no number
    text: str  # the task text without its number and without Files/Depends annotations
    done: bool
    group: int  # position of its group heading, 0 before any heading
    group_title: str = ""
    source_text: str = ""  # the line's text after the number, annotations included
    details: list[str] = field(default_factory=list)
    line: int = 0
    depends_on: tuple[str, ...] | None = None  # None: follow the group order
    independent_group: bool = False

    @property
    def declared_files(self) -> tuple[str, ...]:
        return declared_files(self.source_text, self.details)


@dataclass
class OpenSpecChange:
    change_id: str
    directory: Path
    tasks_file: Path
    tasks: list[OpenSpecTask]
    source: str  # "openspec CLI x.y.z" or "files"


def declared_files(text: str, details: Sequence[str] = ()) -> tuple[str, ...]:
    """Files a task names: `Files:` annotations first, then backticked paths in its text."""
    found: list[str] = []
    for source in (text, *details):
        for match in _FILES_INLINE.finditer(source):
            found += parse_declared_files("Files: " + match.group("patterns"))
    for token in _BACKTICKED.findall(text):
        if _PATHLIKE.match(token) and ("/" in token or re.search(r"\.\w+$", token)):
            found.append(token)
    return tuple(dict.fromkeys(found))


def _clean_text(text: str) -> str:
    text = _FILES_INLINE.sub("", text)
    text = _DEPENDS.sub("", text)
    return re.sub(r"\s{2,}", " ", text).strip(" -;,")


def _depends_on(text: str, details: Sequence[str]) -> tuple[str, ...] | None:
    for source in (text, *details):
        match = _DEPENDS.search(source)
        if match:
            refs = re.findall(r"\d+(?:\.\d+)*", match.group("refs"))
            return tuple(refs)  # empty for "Depends on: none"
    return None


def parse_tasks_file(text: str) -> list[OpenSpecTask]:
    """Every checkbox task of a tasks.md, in order, with its group and detail lines."""
    tasks: list[OpenSpecTask] = []
    group, group_title, independent = 0, "", False
    current: OpenSpecTask | None = None
    for line_number, line in enumerate(text.splitlines(), start=1):
        heading = _GROUP.match(line)
        task = _TASK.match(line)
        if heading:
            group += 1
            group_title = heading.group("title")
            independent = bool(_PARALLEL_GROUP.search(group_title))
            current = None
        elif task:  # nested checkboxes are tasks too, as the openspec CLI counts them
            raw = task.group("text")
            numbered = _TASK_NUMBER.match(raw)
            number = numbered.group("number") if numbered else str(len(tasks) + 1)
            body = numbered.group("rest") if numbered else raw
            current = OpenSpecTask(number, _clean_text(body), task.group("mark") in "xX", group,
                                   group_title, body, line=line_number,
                                   independent_group=independent)
            tasks.append(current)
        elif current is not None and line.strip() and line[:1].isspace():
            current.details.append(line.strip())
        elif current is not None and not line.strip():
            continue
        else:
            current = None
    for item in tasks:
        item.depends_on = _depends_on(item.source_text, item.details)
    return tasks


def _openspec_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OPENSPEC_TELEMETRY": "0", "DO_NOT_TRACK": "1", "NO_COLOR": "1"})
    return env


def _cli_instructions(repo: Path, change_id: str, binary: str) -> dict[str, Any] | None:
    """The CLI's apply instructions for the change, or None when the CLI cannot tell."""
    try:
        result = subprocess.run(
            [binary, "instructions", "apply", "--change", change_id, "--json"], cwd=repo,
            capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS, env=_openspec_env(),
            stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("tasks"), list) else None


def _cli_version(binary: str) -> str:
    try:
        result = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                timeout=CLI_TIMEOUT_SECONDS, env=_openspec_env(),
                                stdin=subprocess.DEVNULL, check=False)
        return result.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _available_changes(repo: Path) -> list[str]:
    changes = repo / "openspec" / "changes"
    if not changes.is_dir():
        return []
    return sorted(p.name for p in changes.iterdir() if p.is_dir() and p.name != "archive")


def _merge_cli_tasks(parsed: list[OpenSpecTask], cli_tasks: list[Any]) -> list[OpenSpecTask]:
    """The CLI's task list, enriched from the file when both agree on the lines."""
    texts = [str(item.get("description", "")) for item in cli_tasks if isinstance(item, dict)]
    if len(texts) == len(parsed) and all(
            text.strip().endswith(task.source_text.strip()) for text, task in zip(texts, parsed)):
        for task, item in zip(parsed, cli_tasks):
            task.done = bool(item.get("done"))
        return parsed
    # The CLI and our reading of the file disagree: trust the CLI, groups from the numbers.
    merged: list[OpenSpecTask] = []
    for position, item in enumerate(cli_tasks, start=1):
        raw = str(item.get("description", "")).strip()
        numbered = _TASK_NUMBER.match(raw)
        number = numbered.group("number") if numbered else str(position)
        body = numbered.group("rest") if numbered else raw
        group = int(number.split(".")[0]) if numbered else (merged[-1].group if merged else 0)
        task = OpenSpecTask(number, _clean_text(body), bool(item.get("done")), group,
                            source_text=body)
        task.depends_on = _depends_on(body, ())
        merged.append(task)
    return merged


def read_change(repo: Path, change_id: str, *, binary: str | None = None) -> OpenSpecChange:
    """The change's tasks, through the openspec CLI when installed, else from its files."""
    if not CHANGE_ID.match(change_id) or ".." in change_id:
        raise BadInput(f"{change_id!r} is not an OpenSpec change id",
                       fix="use the folder name under openspec/changes/, e.g. add-user-auth")
    repo = repo.resolve()
    binary = binary or shutil.which("openspec")
    data = _cli_instructions(repo, change_id, binary) if binary else None
    directory = Path(data["changeDir"]) if data and data.get("changeDir") else \
        repo / "openspec" / "changes" / change_id
    if not directory.is_dir():
        known = ", ".join(_available_changes(repo)) or "none"
        raise BadInput(f"no OpenSpec change {change_id!r} in {repo}", path=directory,
                       fix=f"pick one of the changes there ({known}), or create it with "
                           f"`openspec new change {change_id}`")
    tasks_file = directory / "tasks.md"
    if data:
        listed = data.get("contextFiles", {}).get("tasks") or []
        tasks_file = Path(listed[0]) if listed else tasks_file
    if not tasks_file.is_file():
        raise BadInput(f"change {change_id!r} has no tasks.md", path=tasks_file,
                       fix="write its tasks (`## 1. Group` headings, `- [ ] 1.1 Task` lines)")
    parsed = parse_tasks_file(tasks_file.read_text(encoding="utf-8"))
    if data:
        tasks = _merge_cli_tasks(parsed, data["tasks"])
        source = f"openspec CLI {_cli_version(binary)}" if binary else "openspec CLI"
    else:
        tasks, source = parsed, "files"
    return OpenSpecChange(change_id, directory, tasks_file, tasks, source)


class TaskWriter(Protocol):
    """The part of a Beads store the importer uses (orchestration.beads.BeadsStore)."""

    def load(self) -> TaskGraph: ...

    def create(self, title: str, *, description: str = "", priority: int = 2,
               issue_type: str = "task", labels: Sequence[str] = (),
               external_ref: str | None = None, parent: str | None = None) -> str: ...

    def add_dependency(self, issue_id: str, depends_on_id: str, type: str = "blocks") -> None: ...


@dataclass
class ImportResult:
    change: OpenSpecChange
    created: dict[str, str] = field(default_factory=dict)  # task number -> new Beads id
    existing: dict[str, str] = field(default_factory=dict)  # task number -> Beads id
    dependencies_added: list[tuple[str, str]] = field(default_factory=list)
    skipped_done: int = 0
    done_numbers: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def external_ref(change_id: str, number: str) -> str:
    return f"openspec:{change_id}#{number}"


def _description(change: OpenSpecChange, task: OpenSpecTask, repo: Path) -> str:
    parts = [task.text]
    details = [detail for detail in task.details
               if not _FILES_INLINE.match(detail) and not _DEPENDS.match(detail)]
    if details:
        parts.append("\n".join(details))
    footer = []
    if task.declared_files:
        footer.append("Files: " + ", ".join(task.declared_files))
    try:
        where = change.tasks_file.relative_to(repo)
    except ValueError:
        where = change.tasks_file
    group = f', group "{task.group_title}"' if task.group_title else ""
    footer.append(f"OpenSpec change: {change.change_id} ({where}, task {task.number}{group})")
    parts.append("\n".join(footer))
    return "\n\n".join(parts) + "\n"


def _title(task: OpenSpecTask) -> str:
    title = task.text or f"OpenSpec task {task.number}"
    return title if len(title) <= 200 else title[:197].rstrip() + "..."


def _blockers(task: OpenSpecTask, open_tasks: list[OpenSpecTask],
              by_number: dict[str, OpenSpecTask], result: ImportResult) -> list[OpenSpecTask]:
    if task.depends_on is not None:
        found = []
        for number in task.depends_on:
            if number in by_number:
                found.append(by_number[number])
            elif number not in result.done_numbers:
                result.notes.append(f"task {task.number}: 'Depends on {number}' names no "
                                    f"unchecked task of the change; ignored")
        return found
    if task.independent_group:
        return []
    earlier = [other.group for other in open_tasks if other.group < task.group]
    if not earlier:
        return []
    previous = max(earlier)
    return [other for other in open_tasks if other.group == previous]


def import_change(repo: Path, change: OpenSpecChange, store: TaskWriter) -> ImportResult:
    """Create the change's unchecked tasks in Beads (once) and their dependencies."""
    result = ImportResult(change)
    graph = store.load()
    by_ref = {str(task.raw.get("external_ref")): task for task in graph.tasks.values()
              if task.raw.get("external_ref")}
    open_tasks = [task for task in change.tasks if not task.done]
    result.skipped_done = len(change.tasks) - len(open_tasks)
    result.done_numbers = {task.number for task in change.tasks if task.done}
    by_number = {task.number: task for task in open_tasks}
    ids: dict[str, str] = {}
    for task in open_tasks:
        ref = external_ref(change.change_id, task.number)
        if ref in by_ref:
            ids[task.number] = by_ref[ref].id
            result.existing[task.number] = by_ref[ref].id
            continue
        new_id = store.create(_title(task), description=_description(change, task, repo),
                              labels=("openspec",), external_ref=ref)
        ids[task.number] = new_id
        result.created[task.number] = new_id
    graph = store.load()
    for task in open_tasks:
        issue = graph.get(ids[task.number])
        present = {dep.depends_on_id for dep in issue.dependencies} if issue else set()
        for blocker in _blockers(task, open_tasks, by_number, result):
            blocker_id = ids[blocker.number]
            if blocker_id in present or blocker_id == ids[task.number]:
                continue
            try:
                store.add_dependency(ids[task.number], blocker_id)
            except BadInput as problem:  # e.g. a cycle the change itself declares
                result.notes.append(f"task {task.number}: {problem}")
                continue
            result.dependencies_added.append((ids[task.number], blocker_id))
    return result


__all__ = ["OpenSpecChange", "OpenSpecTask", "ImportResult", "declared_files",
           "external_ref", "import_change", "parse_tasks_file", "read_change"]
