"""In-place editing of one JSONL line, and Go-compatible encoding of the values we write."""

from __future__ import annotations

import json

import pytest

from orch_tui.orchestration.tracker.beads_line_edit import REMOVE, encode_like_go, splice_members
from tests.support.helpers import DATA_DIR


@pytest.mark.parametrize("name", ["beads-v0.47.0.issues.jsonl", "beads-v0.9.11.issues.jsonl"])
def test_encoder_reproduces_bds_own_lines_byte_for_byte(name: str) -> None:
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    different = [line for line in lines if encode_like_go(json.loads(line)) != line]
    assert different == []


def test_encoder_escapes_like_go() -> None:
    assert encode_like_go({"t": "a<b>&c\u2028é"}) == '{"t":"a\\u003cb\\u003e\\u0026c\\u2028é"}'


def test_splice_replaces_only_the_named_values() -> None:
    line = '{"id":"x-1", "status" : "open","n":[1, 2],"z":"<keep>"}'
    assert splice_members(line, {"status": "closed"}) == \
        '{"id":"x-1", "status" : "closed","n":[1, 2],"z":"<keep>"}'


def test_splice_adds_at_the_end_and_removes_with_the_separator() -> None:
    line = '{"id":"x-1","closed_at":"2026-01-01T00:00:00Z","assignee":"a"}'
    edited = splice_members(line, {"closed_at": REMOVE, "assignee": REMOVE, "notes": "n"})
    assert edited == '{"id":"x-1","notes":"n"}'
    assert splice_members('{ }', {"a": 1}) == '{ "a":1}'
    assert splice_members('{"only":1}', {"only": REMOVE}) == '{}'
    assert splice_members('{"a":1}', {"missing": REMOVE}) == '{"a":1}'


def test_splice_rejects_what_is_not_one_object() -> None:
    with pytest.raises(ValueError):
        splice_members('[1, 2]', {"a": 1})
    with pytest.raises(ValueError):
        splice_members('{"a":1', {"a": 2})
