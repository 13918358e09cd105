"""JSONC (JSON with comments and trailing commas): read it, and edit it in place.

Configuration files people write by hand keep their comments, key order and layout: an edit
replaces or inserts only the text of the one member it changes. Parsing records where every
value starts and ends; edits splice new text at those offsets and parse again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch_tui.orchestration.errors import BadInput

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}
MISSING: Any = object()
"""Returned by `JsoncDocument.get` for a path that is not there."""


@dataclass
class Node:
    """One parsed value and where its text lies: `text[start:end]`."""

    kind: str  # "object", "array" or "scalar"
    start: int
    end: int
    value: Any = None
    members: list[Member] = field(default_factory=list)  # objects, in file order


@dataclass
class Member:
    key: str
    key_start: int
    value: Node


class _Parser:
    def __init__(self, text: str, path: Path | None) -> None:
        self.text = text
        self.path = path
        self.pos = 0

    def fail(self, message: str, at: int | None = None) -> BadInput:
        at = self.pos if at is None else at
        line = self.text.count("\n", 0, at) + 1
        return BadInput(f"not valid JSON/JSONC: {message}", path=self.path, line=line,
                        fix="correct the file (comments and trailing commas are fine)")

    def skip_blank(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                newline = text.find("\n", self.pos)
                self.pos = len(text) if newline < 0 else newline
            elif text.startswith("/*", self.pos):
                close = text.find("*/", self.pos + 2)
                if close < 0:
                    raise self.fail("a /* comment is never closed")
                self.pos = close + 2
            else:
                return

    def document(self) -> Node:
        self.skip_blank()
        node = self.value()
        self.skip_blank()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the end of the document")
        return node

    def value(self) -> Node:
        if self.pos >= len(self.text):
            raise self.fail("the document ends where a value was expected")
        char = self.text[self.pos]
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char == '"':
            start = self.pos
            return Node("scalar", start, self.pos_after_string(), self.string_value(start))
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                start, self.pos = self.pos, self.pos + len(word)
                return Node("scalar", start, self.pos, literal)
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return Node("scalar", match.start(), match.end(), json.loads(match.group()))
        raise self.fail(f"unexpected character {char!r}")

    def pos_after_string(self) -> int:
        text, index = self.text, self.pos + 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
            elif text[index] == '"':
                self.pos = index + 1
                return self.pos
            elif text[index] == "\n":
                break
            else:
                index += 1
        raise self.fail("a string is never closed")

    def string_value(self, start: int) -> str:
        try:
            return str(json.loads(self.text[start:self.pos]))
        except json.JSONDecodeError as error:
            raise self.fail(f"bad string ({error.msg})", start) from None

    def object(self) -> Node:
        node = Node("object", self.pos, self.pos, {})
        self.pos += 1
        while True:
            self.skip_blank()
            if self.text.startswith("}", self.pos):
                break
            if not self.text.startswith('"', self.pos):
                raise self.fail('expected a "key" or }')
            key_start = self.pos
            self.pos_after_string()
            key = self.string_value(key_start)
            self.skip_blank()
            if not self.text.startswith(":", self.pos):
                raise self.fail(f'expected ":" after "{key}"')
            self.pos += 1
            self.skip_blank()
            member = Member(key, key_start, self.value())
            node.members.append(member)
            node.value[key] = member.value.value
            self.skip_blank()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                raise self.fail('expected "," or } after a member')
        self.pos += 1
        node.end = self.pos
        return node

    def array(self) -> Node:
        node = Node("array", self.pos, self.pos, [])
        self.pos += 1
        while True:
            self.skip_blank()
            if self.text.startswith("]", self.pos):
                break
            node.value.append(self.value().value)
            self.skip_blank()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise self.fail('expected "," or ] after an item')
        self.pos += 1
        node.end = self.pos
        return node


def parse(text: str, path: Path | None = None) -> Node:
    """The syntax tree of a JSONC document; BadInput naming the line when it is not valid."""
    return _Parser(text, path).document()


def loads(text: str, path: Path | None = None) -> Any:
    """The value of a JSONC document (comments and trailing commas allowed)."""
    return parse(text, path).value


class JsoncDocument:
    """A JSONC text that can be read by key path and edited without losing comments."""

    def __init__(self, text: str, path: Path | None = None) -> None:
        self.path = path
        self.text = text
        self.root = parse(text, path)

    @property
    def value(self) -> Any:
        return self.root.value

    def get(self, keys: Sequence[str]) -> Any:
        """The value at `keys` (object keys from the root), or MISSING."""
        value = self.root.value
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return MISSING
            value = value[key]
        return value

    def set(self, keys: Sequence[str], value: Any) -> bool:
        """Make `keys` hold `value`, creating objects on the way; False when it already did."""
        if not keys:
            raise ValueError("set() needs at least one key")
        current = self.get(keys)
        if current is not MISSING and type(current) is type(value) and current == value:
            return False
        if self.root.kind != "object":
            raise BadInput("the top level is not an object", path=self.path, line=1,
                           fix='the file must look like { "key": value }')
        node = self.root
        for depth, key in enumerate(keys):
            member = _last_member(node, key)
            rest = keys[depth + 1:]
            if member is None:
                unit = _indent_unit(self.text, self.root)
                self._splice(*_insertion(self.text, node, key, _nest(rest, value), unit))
                return True
            if not rest or member.value.kind != "object":
                self._replace(member, _nest(rest, value))
                return True
            node = member.value
        return True  # unreachable: the loop always returns

    def _replace(self, member: Member, value: Any) -> None:
        indent = _line_indent(self.text, member.key_start)
        new = _dumps(value, indent, _indent_unit(self.text, self.root))
        self._splice(member.value.start, member.value.end, new)

    def _splice(self, start: int, end: int, new: str) -> None:
        self.text = self.text[:start] + new + self.text[end:]
        self.root = parse(self.text, self.path)


def _last_member(node: Node, key: str) -> Member | None:
    # Like JSON.parse, the last of duplicate keys wins.
    found = [member for member in node.members if member.key == key]
    return found[-1] if found else None


def _nest(keys: Sequence[str], value: Any) -> Any:
    for key in reversed(keys):
        value = {key: value}
    return value


def _line_start(text: str, at: int) -> int:
    return text.rfind("\n", 0, at) + 1


def _line_indent(text: str, at: int) -> str:
    start = _line_start(text, at)
    line = text[start:at]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _indent_unit(text: str, root: Node) -> str:
    """The document's indentation step, taken from its first indented member (else 2 spaces)."""
    for member in root.members:
        indent = _line_indent(text, member.key_start)
        if indent and text[_line_start(text, member.key_start):member.key_start] == indent:
            return indent
    return "  "


def _dumps(value: Any, indent: str, unit: str) -> str:
    return json.dumps(value, indent=unit, ensure_ascii=False).replace("\n", "\n" + indent)


def _end_of_line_if_only_comments(text: str, at: int) -> int:
    """Where a new line may start after `at`: the line end when only blanks/comments follow."""
    index = at
    while index < len(text):
        if text[index] in " \t\r":
            index += 1
        elif text.startswith("//", index):
            newline = text.find("\n", index)
            return len(text) if newline < 0 else newline
        elif text.startswith("/*", index):
            close = text.find("*/", index)
            if "\n" in text[index:close]:
                return at
            index = close + 2
        elif text[index] == "\n":
            return index
        else:
            return at
    return index


def _multiline(text: str, node: Node) -> bool:
    first = node.members[0].key_start if node.members else node.end
    return "\n" in text[node.start:first] or not node.members


def _insertion(text: str, node: Node, key: str, value: Any, unit: str) -> tuple[int, int, str]:
    """(start, end, new text) that adds `"key": value` as the last member of `node`."""
    outer = _line_indent(text, node.start)
    name = json.dumps(key, ensure_ascii=False)
    if not node.members:
        inner = text[node.start + 1:node.end - 1]
        indent = outer + unit
        member = f'{name}: {_dumps(value, indent, unit)}'
        if not inner.strip():
            return node.start + 1, node.end - 1, f"\n{indent}{member}\n{outer}"
        at = _end_of_line_if_only_comments(text, node.start + 1)
        return at, at, f"\n{indent}{member}"
    last = node.members[-1]
    after_value = last.value.end
    comma_at = _skip_inline_blanks(text, after_value)
    has_comma = text.startswith(",", comma_at)
    after = comma_at + 1 if has_comma else after_value
    if not _multiline(text, node):
        member = f"{name}: {json.dumps(value, ensure_ascii=False)}"
        return after, after, (" " if has_comma else ", ") + member
    indent = _line_indent(text, node.members[0].key_start)
    member = f"{name}: {_dumps(value, indent, unit)}"
    at = _end_of_line_if_only_comments(text, after)
    addition = f"\n{indent}{member}" + ("," if has_comma else "")
    if has_comma:
        return at, at, addition
    # Without a trailing comma one goes right after the old last value.
    return after_value, at, "," + text[after_value:at] + addition


def _skip_inline_blanks(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t":
        at += 1
    return at
