"""Beads stores behind one interface, and the choice between them.

- JSONL store (`beads_jsonl`): orch-tui reads and writes `.beads/issues.jsonl` (or the
  legacy `.beads/beads.jsonl`) itself: atomic writes, untouched lines and fields kept byte
  for byte, every dialect tolerated. Works with nothing installed.
- bd store (`beads_bd`): shells out to `bd ... --json`; authoritative for Beads 1.x, whose
  real store is a Dolt database and whose JSONL is only an optional export.

`open_store` picks bd when `bd` is on PATH and answers in this repository, else JSONL, and
the chosen store's `description` says which (and why, when bd was passed over).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol, Sequence

from orch_tui.orchestration.tracker.beads_bd import BdError, BdStore, probe_bd
from orch_tui.orchestration.tracker.beads_jsonl import JsonlStore, load_jsonl
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.model import TaskGraph

__all__ = ["BeadsStore", "BdError", "BdStore", "JsonlStore", "find_jsonl", "load_jsonl",
           "open_store"]

JSONL_NAMES = ("issues.jsonl", "beads.jsonl")
"""Current name first; `beads.jsonl` is what very old Beads wrote."""
DOLT_DIRS = ("embeddeddolt", "dolt")
CREATE_FIX = ("create one with `bd init` (Beads), or start an empty tracker with "
              "`mkdir .beads && touch .beads/issues.jsonl`; `orch-tui demo` shows a sample")


class BeadsStore(Protocol):
    kind: str
    """"jsonl" or "bd"."""
    description: str
    """For people, e.g. "Beads JSONL file .beads/issues.jsonl"."""

    def load(self) -> TaskGraph: ...

    def update(self, task_id: str, *, status: str | None = None, assignee: str | None = None,
               close_reason: str | None = None, note: str | None = None) -> None: ...

    def create(self, title: str, *, description: str = "", priority: int = 2,
               issue_type: str = "task", labels: Sequence[str] = (),
               external_ref: str | None = None, parent: str | None = None) -> str: ...

    def add_dependency(self, issue_id: str, depends_on_id: str, type: str = "blocks") -> None: ...


def find_jsonl(beads_dir: Path) -> Path:
    """The JSONL file in `beads_dir`: issues.jsonl, else legacy beads.jsonl, else (for a
    fresh tracker) the issues.jsonl that the first write will create."""
    for name in JSONL_NAMES:
        candidate = beads_dir / name
        if candidate.is_file():
            return candidate
    return beads_dir / JSONL_NAMES[0]


def open_store(repo: Path, *, prefer: str | None = None) -> BeadsStore:
    """The Beads store of `repo`. `prefer`: None (automatic), "bd" or "jsonl"."""
    repo = Path(repo)
    if prefer not in (None, "bd", "jsonl"):
        raise BadInput(f"unknown Beads store {prefer!r}", fix="use 'bd' or 'jsonl'")
    beads_dir = repo / ".beads"
    if not beads_dir.is_dir():
        raise BadInput(f"no Beads tracker in {repo}: {beads_dir} does not exist",
                       path=beads_dir, fix=CREATE_FIX)

    bd_path = shutil.which("bd", path=os.environ.get("PATH")) if prefer != "jsonl" else None
    passed_over = ""
    if bd_path is not None:
        version, failure = probe_bd(repo, bd_path)
        if version is not None:
            return BdStore(repo, bd_path, version=version)
        if prefer == "bd":
            raise BadInput(f"bd at {bd_path} does not work in {repo}: {failure}",
                           path=beads_dir, fix="run `bd doctor`, or use the JSONL store")
        passed_over = f"bd on PATH did not answer: {failure}"
    elif prefer == "bd":
        raise BadInput("bd is not on PATH", fix="install Beads' bd, or use the JSONL store")

    jsonl = find_jsonl(beads_dir)
    if not jsonl.exists() and any((beads_dir / name).is_dir() for name in DOLT_DIRS):
        raise BadInput(
            f"{beads_dir} holds a Beads 1.x Dolt database, which only bd can read",
            path=beads_dir,
            fix="put bd on PATH, or export once with `bd export -o .beads/issues.jsonl` "
                "(or set `export.auto: true` in .beads/config.yaml)")
    return JsonlStore(jsonl, display_path=_shown(jsonl, repo), note=passed_over)


def _shown(path: Path, repo: Path) -> str:
    try:
        return str(path.relative_to(repo))
    except ValueError:
        return str(path)
