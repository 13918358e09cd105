"""Conflict records (per file, per hunk: base / ours / theirs with context) and resolution.

Conventions: the merge runs in the merge worktree with the target branch checked out, so
"ours" is the target branch and "theirs" is the task branch being merged.

A record is always rebuilt from git's own durable state (the conflict stages left in the
merge worktree's index) plus the choices made so far (kept in the merge's state file,
state_file.py), so it survives a restart. Files stay unmerged in the index until the merge
is continued; until then each choice rewrites the working file (undecided hunks keep diff3
markers, so an editor shows exactly what is left).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.infra.git_exec import GitFailed, git_bytes, nul_fields, run_git, run_git_bytes
from orch_tui.orchestration.conflict_record import Conflict as Conflict, ConflictFile as ConflictFile, Hunk as Hunk

CONTEXT_LINES = 3
HUNK_CHOICES = ("ours", "theirs", "both")
FILE_CHOICES = ("ours", "theirs", "both")
_MARKER = 31  # longer than the usual 7, so marker-like lines inside files do not confuse parsing
_OURS, _BASE, _MID, _THEIRS = (c * _MARKER for c in (b"<", b"|", b"=", b">"))


class FileResolution(TypedDict, total=False):
    """The choices made so far for one conflicted file (kept in the merge's state file)."""

    hunks: dict[str, str]
    """Hunk index (as a string: JSON keys) -> ours, theirs or both."""
    whole: str
    """A whole-file resolution (see ConflictFile.resolution)."""


# ----- git's conflict stages --------------------------------------------------------------
Stages = dict[int, str]
"""Stage number (1 base, 2 ours, 3 theirs) -> blob id, for one path."""


def unmerged_stages(worktree: Path) -> dict[str, Stages]:
    """Unmerged paths of the worktree's index with their stage blobs."""
    stages: dict[str, Stages] = {}
    for entry in nul_fields(run_git(worktree, "ls-files", "--unmerged", "-z").out):
        meta, _, path = entry.partition("\t")
        _mode, blob, stage = meta.split()
        stages.setdefault(path, {})[int(stage)] = blob
    return stages


def _blob(worktree: Path, blob: str | None) -> bytes:
    return git_bytes(worktree, "cat-file", "blob", blob) if blob else b""


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:8000]  # git's own heuristic


def _kind(stages: Stages, binary: bool) -> str:
    present = set(stages)
    if binary and {2, 3} <= present:
        return "binary"
    if present == {1, 2, 3}:
        return "content"
    if present == {2, 3}:
        return "add/add"
    if present == {1, 2}:
        return "modified/deleted"
    if present == {1, 3}:
        return "deleted/modified"
    return "other"


# ----- hunks ------------------------------------------------------------------------------
@dataclass
class _RawHunk:
    ours: bytes
    base: bytes
    theirs: bytes


Part = bytes | _RawHunk


def _three_way(worktree: Path, stages: Stages) -> list[Part]:
    """The file as `git merge-file --diff3` merges it: common text and conflict hunks."""
    originals = {stage: _blob(worktree, stages.get(stage)) for stage in (1, 2, 3)}
    with tempfile.TemporaryDirectory(prefix="orch-merge-file-") as scratch:
        names = []
        for stage, label in ((2, "ours"), (1, "base"), (3, "theirs")):
            path = Path(scratch) / label
            path.write_bytes(originals[stage])
            names.append(str(path))
        # merge-file exits with the number of conflicts; only a negative status is an error.
        # Without a base (add/add) zdiff3 keeps lines both sides added alike out of the hunk.
        style = "--diff3" if 1 in stages else "--zdiff3"
        status, merged, err = run_git_bytes(worktree, "merge-file", "-p", style, f"--marker-size={_MARKER}",
                                           "-L", "ours", "-L", "base", "-L", "theirs", *names)
    if status < 0 or status > 127:
        raise GitFailed(("merge-file",), status, err, worktree)
    return _restore_final_newlines(_parse_markers(merged), originals)


def _restore_final_newlines(parts: list[Part], originals: dict[int, bytes]) -> list[Part]:
    """Give a hunk at the end of the file back each side's missing final newline.

    merge-file ends every side of a conflict with a line ending so its markers stay on lines
    of their own, so a side whose file had no final newline would gain one. The last hunk's
    sides end where their files end, so each must be a suffix of its file: trim git's
    addition (`\n` or `\r\n`) where it is not.
    """
    if not parts or not isinstance(parts[-1], _RawHunk):
        return parts
    last = parts[-1]
    parts[-1] = _RawHunk(_as_suffix(last.ours, originals[2]), _as_suffix(last.base, originals[1]),
                         _as_suffix(last.theirs, originals[3]))
    return parts


def _as_suffix(side: bytes, original: bytes) -> bytes:
    for cut in (0, 1, 2):
        trimmed = side[:len(side) - cut]
        if original.endswith(trimmed) and (cut == 0 or side[len(side) - cut:].strip(b"\r\n") == b""):
            return trimmed
    return side


def _line_ending_of(text: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in text else b"\n"


def _parse_markers(merged: bytes) -> list[Part]:
    parts: list[Part] = []
    common: list[bytes] = []
    hunk: dict[str, list[bytes]] | None = None
    side = ""
    for line in merged.splitlines(keepends=True):
        bare = line.rstrip(b"\r\n")
        if bare.startswith(_OURS) and hunk is None:
            parts.append(b"".join(common))
            common, hunk, side = [], {"ours": [], "base": [], "theirs": []}, "ours"
        elif hunk is not None and bare.startswith(_BASE):
            side = "base"
        elif hunk is not None and bare == _MID:
            side = "theirs"
        elif hunk is not None and bare.startswith(_THEIRS):
            parts.append(_RawHunk(*(b"".join(hunk[k]) for k in ("ours", "base", "theirs"))))
            hunk = None
        elif hunk is not None:
            hunk[side].append(line)
        else:
            common.append(line)
    parts.append(b"".join(common))
    return [p for p in parts if not (isinstance(p, bytes) and not p)]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _plain(part: Part) -> bytes:
    """The bytes of a part outside any hunk (none for a hunk)."""
    return part if isinstance(part, bytes) else b""


def _hunks(parts: list[Part], choices: dict[int, str]) -> list[Hunk]:
    hunks: list[Hunk] = []
    line = 1
    raw_index = 0
    for position, part in enumerate(parts):
        if isinstance(part, bytes):
            line += part.count(b"\n")
            continue
        before = _plain(parts[position - 1]) if position else b""
        after = _plain(parts[position + 1]) if position + 1 < len(parts) else b""
        hunks.append(Hunk(raw_index, line, _text(part.base), _text(part.ours), _text(part.theirs),
                          _text(b"".join(before.splitlines(keepends=True)[-CONTEXT_LINES:])),
                          _text(b"".join(after.splitlines(keepends=True)[:CONTEXT_LINES])),
                          choices.get(raw_index)))
        line += part.ours.count(b"\n")
        raw_index += 1
    return hunks


def _render_hunk(hunk: _RawHunk, choice: str | None) -> bytes:
    if choice == "ours":
        return hunk.ours
    if choice == "theirs":
        return hunk.theirs
    if choice == "both":
        return hunk.ours + _joint(hunk.ours, hunk.theirs) + hunk.theirs
    return (_OURS + b" ours\n" + _own_lines(hunk.ours) + _BASE + b" base\n" + _own_lines(hunk.base)
            + _MID + b"\n" + _own_lines(hunk.theirs) + _THEIRS + b" theirs\n")


def _joint(first: bytes, second: bytes) -> bytes:
    """A line ending between two sides when the first has none (it ended its file)."""
    return _line_ending_of(first) if first and second and not first.endswith(b"\n") else b""


def _own_lines(side: bytes) -> bytes:
    """A side ending its file without a newline still leaves the next marker on its own line."""
    return side + _line_ending_of(side) if side and not side.endswith(b"\n") else side


def _render(parts: list[Part], choices: dict[int, str]) -> bytes:
    out, index = [], 0
    for part in parts:
        if isinstance(part, bytes):
            out.append(part)
        else:
            out.append(_render_hunk(part, choices.get(index)))
            index += 1
    return b"".join(out)


# ----- records and resolutions --------------------------------------------------------------
def describe_file(worktree: Path, path: str, stages: Stages, resolution: FileResolution,
                  messages: list[str]) -> ConflictFile:
    """The record of one conflicted path, with choices from `resolution` applied."""
    ours, theirs = _blob(worktree, stages.get(2)), _blob(worktree, stages.get(3))
    binary = _is_binary(ours) or _is_binary(theirs) or _is_binary(_blob(worktree, stages.get(1)))
    kind = _kind(stages, binary)
    mine = [m for m in messages if path in m]
    if kind == "other":  # e.g. rename/rename: name it as git did
        found = next((m[m.index("(") + 1:m.index(")")] for m in mine if "(" in m and ")" in m), None)
        kind = found or kind
    record = ConflictFile(path, kind, 1 in stages, 2 in stages, 3 in stages,
                          resolution=resolution.get("whole"), messages=mine)
    if kind in ("content", "add/add"):
        choices = {int(k): v for k, v in resolution.get("hunks", {}).items()}
        record.hunks = _hunks(_three_way(worktree, stages), choices)
    return record


def hunk_count(worktree: Path, stages: Stages) -> int:
    return sum(1 for part in _three_way(worktree, stages) if isinstance(part, _RawHunk))


def write_hunk_choices(worktree: Path, path: str, stages: Stages, choices: dict[int, str]) -> None:
    """Rewrite the working file: chosen hunks resolved, undecided ones as diff3 markers."""
    _write(worktree, path, _render(_three_way(worktree, stages), choices))


def write_file_choice(worktree: Path, path: str, stages: Stages, choice: str) -> str:
    """Apply a whole-file choice; returns the resolution to remember (may be `deleted`).

    For a text file with both sides, the choice applies to every conflicting hunk and the
    changes git merged cleanly are kept (like `git merge-file --ours`); for binary files and
    delete/rename conflicts that side's version is taken whole (or the file deleted)."""
    if choice not in FILE_CHOICES:
        raise BadInput(f"unknown choice {choice!r} for {path}", fix=f"use one of {', '.join(FILE_CHOICES)}")
    ours = _blob(worktree, stages.get(2))
    text_both_sides = {2, 3} <= set(stages) and _kind(stages, _is_binary(ours) or _is_binary(
        _blob(worktree, stages.get(3)))) != "binary"
    if text_both_sides:
        parts = _three_way(worktree, stages)
        count = sum(1 for p in parts if isinstance(p, _RawHunk))
        _write(worktree, path, _render(parts, {i: choice for i in range(count)}))
        return choice
    if choice == "both":
        raise BadInput(f"{path}: 'both' needs text on both sides", fix="choose ours or theirs, or write the file")
    blob = stages.get(2 if choice == "ours" else 3)
    if blob is None:
        _delete(worktree, path)
        return "deleted"
    _write(worktree, path, _blob(worktree, blob))
    return choice


def write_content(worktree: Path, path: str, content: str | bytes | None) -> str:
    """A person's own resolution (None deletes the file); returns `custom` or `deleted`."""
    if content is None:
        _delete(worktree, path)
        return "deleted"
    _write(worktree, path, content.encode("utf-8") if isinstance(content, str) else content)
    return "custom"


def stage_resolved(worktree: Path, path: str, resolution: str | None) -> None:
    """Record the working file (or its deletion) in the index, ending the path's conflict."""
    if resolution == "deleted":
        run_git(worktree, "rm", "--quiet", "--cached", "--ignore-unmatch", "--", path)
    else:
        run_git(worktree, "add", "--", path)


def _safe_target(worktree: Path, path: str) -> Path:
    target = (worktree / path).resolve()
    if not target.is_relative_to(worktree.resolve()):
        raise BadInput(f"{path!r} is outside the merge worktree", fix="give a path inside the repository")
    return target


def _write(worktree: Path, path: str, data: bytes) -> None:
    target = _safe_target(worktree, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _delete(worktree: Path, path: str) -> None:
    target = _safe_target(worktree, path)
    if target.exists():
        target.unlink()


def conflict_lines(merge_output: str) -> list[str]:
    """git's `CONFLICT (...)` lines from a merge's output."""
    return [line.strip() for line in merge_output.splitlines() if line.strip().startswith("CONFLICT")]

