"""Editing one JSONL line in place: only the members that change get new bytes.

Beads' files are written by Go's encoder: compact, non-ASCII kept as UTF-8, `<`, `>` and
`&` escaped as `\\u003c` `\\u003e` `\\u0026`, U+2028/2029 escaped. `encode_like_go` mimics it,
so a value we re-encode looks like the value bd would write (it reproduces every line of
both real sample files byte for byte). Members we do not change keep their exact bytes,
whatever tool wrote them.
"""

from __future__ import annotations

import json
from typing import Any

REMOVE = object()
"""Marker value in `splice_members` changes: delete this member."""

_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
               ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
_WHITESPACE = " \t\r\n"
_decoder = json.JSONDecoder()


def encode_like_go(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # These characters can only occur inside JSON strings, so replacing them is safe.
    for plain, escaped in _GO_ESCAPES:
        if plain in text:
            text = text.replace(plain, escaped)
    return text


def _skip_whitespace(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def member_spans(text: str) -> tuple[list[tuple[str, int, int, int]], int]:
    """Top-level members of the object in `text` as (key, key_start, value_start, value_end),
    and the index of the closing brace. Raises ValueError when `text` is not one object."""
    index = _skip_whitespace(text, 0)
    if index >= len(text) or text[index] != "{":
        raise ValueError("not a JSON object")
    index = _skip_whitespace(text, index + 1)
    members: list[tuple[str, int, int, int]] = []
    if index < len(text) and text[index] == "}":
        return members, index
    while True:
        if index >= len(text) or text[index] != '"':
            raise ValueError("expected a member name")
        key_start = index
        key, index = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]  # public since 2.6, untyped
        index = _skip_whitespace(text, index)
        if index >= len(text) or text[index] != ":":
            raise ValueError("expected ':'")
        value_start = _skip_whitespace(text, index + 1)
        _, value_end = _decoder.raw_decode(text, value_start)
        members.append((key, key_start, value_start, value_end))
        index = _skip_whitespace(text, value_end)
        if index < len(text) and text[index] == ",":
            index = _skip_whitespace(text, index + 1)
            continue
        if index < len(text) and text[index] == "}":
            return members, index
        raise ValueError("expected ',' or '}'")


def splice_members(text: str, changes: dict[str, Any]) -> str:
    """`text` (one JSON object) with members set, added (at the end) or removed (REMOVE).

    Every other byte of `text` stays as it was.
    """
    members, _ = member_spans(text)
    present = {member[0] for member in members}
    replacements = [(value_start, value_end, encode_like_go(changes[key]))
                    for key, _, value_start, value_end in members
                    if key in changes and changes[key] is not REMOVE]
    for start, end, replacement in sorted(replacements, reverse=True):
        text = text[:start] + replacement + text[end:]
    for key in [key for key, value in changes.items() if value is REMOVE and key in present]:
        text = _remove_member(text, key)

    additions = [(key, value) for key, value in changes.items()
                 if key not in present and value is not REMOVE]
    if not additions:
        return text
    members, closing = member_spans(text)
    insert_at = members[-1][3] if members else closing
    added = ",".join(f"{encode_like_go(key)}:{encode_like_go(value)}" for key, value in additions)
    if members:
        added = "," + added
    return text[:insert_at] + added + text[insert_at:]


def _remove_member(text: str, key: str) -> str:
    """`text` without every member named `key` (with the comma that separated it)."""
    while True:
        members, _ = member_spans(text)
        positions = [index for index, member in enumerate(members) if member[0] == key]
        if not positions:
            return text
        position = positions[0]
        _, key_start, _, value_end = members[position]
        if position + 1 < len(members):
            text = text[:key_start] + text[members[position + 1][1]:]
        elif position > 0:
            text = text[:members[position - 1][3]] + text[value_end:]
        else:
            text = text[:key_start] + text[value_end:]
