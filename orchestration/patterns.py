"""Gitignore-style path patterns: matching a path, and whether two patterns can overlap.

Patterns are relative to the repository root (`src/api/**`, `pkg/*.py`, `docs`). A pattern
that names a directory (a literal last segment without a dot, such as `docs`) also covers
everything below it, as in gitignore. `**`
spans any number of segments; `*`, `?` and `[...]` work inside one segment. Matching is
case-sensitive, as in Agent Mail.

Overlap errs on the side of "yes": two lanes wrongly kept apart cost a little parallelism,
two lanes wrongly let together cost a merge conflict. (Agent Mail's own check has false
negatives for wildcard pairs such as `pkg/*/b.py` vs `pkg/a/*.py`; this one does not.)
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Iterable

_WILDCARD = re.compile(r"[*?\[]")


def split_pattern(pattern: str) -> tuple[str, ...]:
    """Segments of a pattern, without `./`, leading or trailing slashes or empty parts."""
    text = pattern.strip().removeprefix("./")
    return tuple(part for part in text.strip("/").split("/") if part and part != ".")


def _with_contents(segments: tuple[str, ...]) -> tuple[str, ...]:
    """Segments extended to cover what lies below, when the pattern names a directory.

    A literal last segment without a dot reads as a directory (`docs`, `src/api`); one with a
    dot or a wildcard (other than a lone `*`) reads as files (`README.md`, `*.py`), else `**/*.py` would overlap
    every file name as a possible directory.
    """
    last = segments[-1] if segments else "**"
    if last == "**":
        return segments
    if last != "*" and ("." in last or _WILDCARD.search(last)):
        return segments
    return segments + ("**",)


def path_matches(path: str, pattern: str) -> bool:
    """True when the file `path` is the pattern, matches it, or lies below what it names."""
    segments = split_pattern(pattern)
    if not segments:
        return True
    return _match(split_pattern(path), _with_contents(segments))


def _match(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(path[skip:], rest) for skip in range(len(path) + 1))
    return bool(path) and fnmatchcase(path[0], head) and _match(path[1:], rest)


def _literal_ends(segment: str) -> tuple[str, str]:
    pieces = _WILDCARD.split(segment)
    return pieces[0], pieces[-1]


def _segments_can_meet(a: str, b: str) -> bool:
    """Could one name match both segment globs? Exact for literals, conservative otherwise."""
    if not _WILDCARD.search(a):
        return fnmatchcase(a, b)
    if not _WILDCARD.search(b):
        return fnmatchcase(b, a)
    prefix_a, suffix_a = _literal_ends(a)
    prefix_b, suffix_b = _literal_ends(b)
    prefixes_agree = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
    suffixes_agree = suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)
    return prefixes_agree and suffixes_agree


@lru_cache(maxsize=4096)
def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:
        return a == b or a == ("**",) or b == ("**",)
    if a[0] == "**":
        return _overlap(a[1:], b) or _overlap(a, b[1:])
    if b[0] == "**":
        return _overlap(a, b[1:]) or _overlap(a[1:], b)
    return _segments_can_meet(a[0], b[0]) and _overlap(a[1:], b[1:])


def patterns_overlap(a: str, b: str) -> bool:
    """True when some path could be matched by both patterns (or lie below both)."""
    segments_a, segments_b = split_pattern(a), split_pattern(b)
    if not segments_a or not segments_b:
        return True  # an empty pattern or "." names the whole repository
    return _overlap(_with_contents(segments_a), _with_contents(segments_b))


def first_overlap(ours: Iterable[str], theirs: Iterable[str]) -> tuple[str, str] | None:
    """The first pair (ours, theirs) of overlapping patterns, or None."""
    theirs = tuple(theirs)
    for mine in ours:
        for other in theirs:
            if patterns_overlap(mine, other):
                return mine, other
    return None
