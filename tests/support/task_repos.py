"""Real git repositories with a Beads tracker, for engine tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.helpers import git, make_repo


@dataclass
class TaskSpec:
    id: str
    files: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    priority: int = 2
    script: dict[str, Any] | None = None
    title: str = ""
    status: str = "open"
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> dict[str, Any]:
        description = f"Do {self.id}.\n" + (f"Files: {', '.join(self.files)}\n" if self.files else "")
        record: dict[str, Any] = {
            "id": self.id, "title": self.title or f"Task {self.id}", "description": description,
            "status": self.status, "priority": self.priority, "issue_type": "task",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        }
        if self.depends_on:
            record["dependencies"] = [{"issue_id": self.id, "depends_on_id": other, "type": "blocks",
                                       "created_at": "2026-01-01T00:00:00Z"} for other in self.depends_on]
        if self.script is not None:
            record["metadata"] = {"orch_script": self.script}
        return {**record, **self.extra}


def make_task_repo(path: Path, tasks: list[TaskSpec], files: dict[str, str] | None = None) -> Path:
    """A repository whose `.beads/issues.jsonl` holds `tasks`, all committed on main."""
    lines = "".join(json.dumps(task.line()) + "\n" for task in tasks)
    contents = {"README.md": "# sample\n", ".beads/issues.jsonl": lines, **(files or {})}
    return make_repo(path, contents)


def read_statuses(repo: Path) -> dict[str, str]:
    statuses = {}
    for line in (repo / ".beads" / "issues.jsonl").read_text().splitlines():
        record = json.loads(line)
        statuses[record["id"]] = record["status"]
    return statuses


def log_subjects(repo: Path, ref: str = "main") -> list[str]:
    return git(repo, "log", "--format=%s", ref).splitlines()
