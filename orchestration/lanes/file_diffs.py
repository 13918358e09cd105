"""A lane's diff kept file by file, so a refresh of a few paths replaces only their part.

`parse_diff` splits one `git diff --raw -p -z` output into a `FileDiff` per changed file (its
name and its part of the patch, binary files summarised). `FileDiffs` holds the last one of
each file in git's order (by path bytes): a full scan replaces them all, a refresh limited to
some paths replaces what lies at or under those paths (`splice`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

_CHUNK_START = b"diff --git "
_BINARY_PREFIX = "Binary files "


class UnsplittableDiff(ValueError):
    """git's patch did not hold the one part per changed file (two for a type change) expected:
    it can only be shown whole."""

    def __init__(self, message: str, names: tuple[str, ...], patch: str) -> None:
        super().__init__(message)
        self.names = names
        self.patch = patch


@dataclass(frozen=True)
class FileDiff:
    path: bytes
    """The path as git wrote it: what git's order sorts by."""
    name: str
    chunk: str
    """This file's part of the patch (every line, each ending in a newline)."""


def parse_diff(output: bytes, worktree: Path) -> list[FileDiff]:
    """`git diff --raw -p -z --no-renames` output as one FileDiff per changed file.

    The raw records (`:<modes> <ids> <status>` NUL `<path>` NUL each) come first, then one
    more NUL and the patch; a type change (file <-> symlink) has two parts in the patch.
    """
    raw, separator, patch = output.partition(b"\0\0")
    records = _records(raw)
    chunks = _chunks(patch) if separator else []
    wanted = sum(2 if status == b"T" else 1 for status, _path in records)
    if wanted != len(chunks):
        raise UnsplittableDiff(f"{len(records)} changed files but {len(chunks)} parts in the patch",
                               tuple(path.decode(errors="replace") for _status, path in records),
                               patch.decode(errors="replace"))
    diffs, position = [], 0
    for status, path in records:
        parts = 2 if status == b"T" else 1
        name = path.decode(errors="replace")
        chunk = b"".join(chunks[position:position + parts]).decode(errors="replace")
        diffs.append(FileDiff(path, name, _summarise_binary(chunk, name, worktree)))
        position += parts
    return diffs


def _records(raw: bytes) -> list[tuple[bytes, bytes]]:
    """(status letter, path) of each raw record (without renames, each names one path)."""
    fields = raw.split(b"\0")
    records = []
    for index, header in enumerate(fields[:-1]):
        if header.startswith(b":"):
            records.append((header.rsplit(b" ", 1)[-1][:1], fields[index + 1]))
    return records


def _chunks(patch: bytes) -> list[bytes]:
    """The patch cut before each `diff --git ` at the start of a line (a patch's own lines
    start with a space, `+`, `-`, `@` or `\\`, never with that)."""
    starts = [0] if patch.startswith(_CHUNK_START) else []
    position = patch.find(b"\n" + _CHUNK_START)
    while position != -1:
        starts.append(position + 1)
        position = patch.find(b"\n" + _CHUNK_START, position + 1)
    return [patch[start:end] for start, end in zip(starts, [*starts[1:], len(patch)])]


def _summarise_binary(chunk: str, name: str, worktree: Path) -> str:
    """Replace git's 'Binary files a/x and b/x differ' with the file's name and size."""
    if f"\n{_BINARY_PREFIX}" not in chunk:
        return chunk
    target = worktree / name
    size = f"{target.stat().st_size} bytes" if target.is_file() else "deleted"
    return "\n".join(f"Binary file {name} changed ({size})" if line.startswith(_BINARY_PREFIX) else line
                     for line in chunk.split("\n"))


class FileDiffs:
    """The last diff of each changed file, in git's order."""

    def __init__(self) -> None:
        self._by_path: dict[bytes, FileDiff] = {}
        self._unsplit_names: tuple[str, ...] = ()
        self.complete = False
        """Whether a full scan filled it (and nothing failed since): only then can it be spliced."""

    def replace_all(self, diffs: Iterable[FileDiff]) -> None:
        self._by_path = {diff.path: diff for diff in diffs}
        self.complete = True

    def replace_unsplit(self, whole: UnsplittableDiff) -> None:
        """A full diff that could not be split: shown as it is, not to be spliced into."""
        self._by_path = {b"": FileDiff(b"", "", whole.patch)}
        self._unsplit_names = whole.names
        self.complete = False

    def splice(self, paths: Collection[str], diffs: Iterable[FileDiff]) -> None:
        """The diffs of a refresh limited to `paths` (a folder stands for all under it):
        whatever was kept at or under them goes, the new ones come in."""
        limits = [os.fsencode(path) for path in paths]
        kept = {path: diff for path, diff in self._by_path.items() if not _under_any(path, limits)}
        kept.update((diff.path, diff) for diff in diffs)
        self._by_path = dict(sorted(kept.items()))

    def names(self) -> tuple[str, ...]:
        if not self.complete and b"" in self._by_path:
            return self._unsplit_names
        return tuple(diff.name for diff in self._by_path.values())

    def patch(self) -> str:
        return "".join(diff.chunk for diff in self._by_path.values())


def _under_any(path: bytes, limits: list[bytes]) -> bool:
    return any(path == limit or path.startswith(limit + b"/") for limit in limits)
