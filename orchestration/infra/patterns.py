"""Gitignore-style path patterns: matching a path, and whether two patterns can overlap.

Patterns are relative to the repository root (`src/api/**`, `pkg/*.py`, `docs`). A pattern
that names a directory (a literal last segment without a dot, such as `docs`) also covers
everything below it, as in gitignore. `**`
spans any number of segments; `*`, `?` and `[...]` work inside one segment. Matching is
case-sensitive, as in Agent Mail.

Overlap never misses: when some path matches both patterns, `patterns_overlap` says so
(property-tested against brute force in tests/unit/planning/test_patterns_properties.py). Two lanes wrongly
let together cost a merge conflict; two lanes wrongly kept apart cost a little parallelism,
so where exactness would cost, it errs on the side of "yes". Its deliberate
over-approximations: a segment glob that matches nothing at all (an empty range such as
`[z-a]`) is still taken to match some segment beside a `**`, and a path segment may be any
string of characters except `/` (so `*` vs `.*` overlap on `.x`, and a NUL or a name longer
than the file system allows count too). Segment against segment is otherwise exact.
(Agent Mail's own check has false negatives for wildcard pairs such as `pkg/*/b.py` vs
`pkg/a/*.py`; this one does not.)
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


# One segment glob as fnmatch reads it: a literal character, `?` (any one character), `*`
# (any run of characters), or a bracket class `[...]` (kept as written: fnmatch itself decides
# membership, so ranges, `!` negation and odd brackets mean exactly what they mean there).
_STAR, _ANY = "*", "?"


def _glob_tokens(glob: str) -> tuple[str, ...]:
    """`glob` split into tokens: one character each, `*`, `?`, or a whole `[...]` class.

    Follows fnmatch.translate: a `[` without a closing `]` is a literal `[`; `]` right after
    `[` or `[!` belongs to the class; consecutive stars are one star.
    """
    tokens: list[str] = []
    index, size = 0, len(glob)
    while index < size:
        char = glob[index]
        index += 1
        if char == "*":
            if not tokens or tokens[-1] != _STAR:
                tokens.append(_STAR)
        elif char == "[":
            end = index
            if end < size and glob[end] == "!":
                end += 1
            if end < size and glob[end] == "]":
                end += 1
            while end < size and glob[end] != "]":
                end += 1
            if end >= size:
                tokens.append("[[]")  # a literal "[", written as a class fnmatch reads exactly
            else:
                tokens.append(glob[index - 1:end + 1])
                index = end + 1
        else:
            tokens.append(char)
    return tuple(tokens)


def _single(token: str) -> bool:
    return token != _STAR


def _candidate_chars(first: str, second: str) -> set[str]:
    """Characters that stand for every class of characters the two tokens tell apart.

    Which characters a token accepts changes only at characters written in it (range ends),
    so those characters and their neighbours (plus one character written in neither) reach
    every piece where both tokens could agree. `/` never occurs inside a path segment.
    """
    written = {char for char in first + second}
    candidates = {"x", "\u0100"}
    for char in written:
        point = ord(char)
        candidates.update(chr(p) for p in (point - 1, point, point + 1) if 0 < p < 0x110000)
    candidates.discard("/")
    return candidates


@lru_cache(maxsize=8192)
def _chars_can_meet(first: str, second: str) -> bool:
    """Could one character be accepted by both single-character tokens?"""
    if first == _ANY:
        first, second = second, first
    if first == _ANY:
        return True
    if second == _ANY:
        second = first  # `?` accepts whatever `first` accepts, if it accepts anything
    if not first.startswith("[") and not second.startswith("["):
        return first == second
    return any(fnmatchcase(char, first) and fnmatchcase(char, second)
               for char in _candidate_chars(first, second))


@lru_cache(maxsize=4096)
def _segments_can_meet(a: str, b: str) -> bool:
    """Could one path segment (a name without `/`) match both globs? Exact.

    A search over pairs of positions in the two token lists: a star may match nothing (step
    past it) or one more character (stay), any other token matches exactly one character.
    """
    if not _WILDCARD.search(a):
        return fnmatchcase(a, b)
    if not _WILDCARD.search(b):
        return fnmatchcase(b, a)
    first, second = _glob_tokens(a), _glob_tokens(b)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        at_end_a, at_end_b = i == len(first), j == len(second)
        if at_end_a and at_end_b:
            return True
        token_a = None if at_end_a else first[i]
        token_b = None if at_end_b else second[j]
        if token_a == _STAR:
            stack.append((i + 1, j))
        if token_b == _STAR:
            stack.append((i, j + 1))
        if token_a is None or token_b is None:
            continue
        if token_a == _STAR and token_b == _STAR:
            continue  # both stars taking one more character leads back here
        if token_a == _STAR:
            stack.append((i, j + 1))  # the star takes the character b's token matches
        elif token_b == _STAR:
            stack.append((i + 1, j))
        elif _chars_can_meet(token_a, token_b):
            stack.append((i + 1, j + 1))
    return False


@lru_cache(maxsize=4096)
def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:  # what is left of the other must match zero segments
        return all(segment == "**" for segment in a + b)
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
