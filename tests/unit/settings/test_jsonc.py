"""JSONC reading and in-place editing: comments, layout and the user's keys survive."""

from __future__ import annotations

import json

import pytest

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.settings.jsonc import MISSING, JsoncDocument, loads

USER_CONFIG = """// My oh-my-opencode settings
{
  "$schema": "https://example.invalid/oh-my-opencode.schema.json",

  /* Agent overrides - customize models for specific tasks */
  "agents": {
    "oracle": {
      "model": "openai/gpt-5.2"  // GPT for strategic reasoning
    },
    "explore": {
      "model": "opencode/grok-code", // free & fast
    },
  },
  "disabled_hooks": ["comment-checker",],
}
"""


def test_reads_comments_and_trailing_commas_like_the_plugin() -> None:
    assert loads(USER_CONFIG) == {
        "$schema": "https://example.invalid/oh-my-opencode.schema.json",
        "agents": {"oracle": {"model": "openai/gpt-5.2"},
                   "explore": {"model": "opencode/grok-code"}},
        "disabled_hooks": ["comment-checker"]}
    assert loads('{"url": "http://a//b", "c": "/* not a comment */"}') == {
        "url": "http://a//b", "c": "/* not a comment */"}


def test_inserting_new_entries_keeps_every_comment_and_existing_line() -> None:
    document = JsoncDocument(USER_CONFIG)
    assert document.set(["categories", "orch-coder", "description"], "one task per worktree")
    assert document.set(["agents", "sisyphus", "prompt_append"], "line one\nline two")
    assert document.set(["agents", "oracle", "temperature"], 0.2)

    for line in USER_CONFIG.splitlines():
        if line.strip() and '"model": "openai/gpt-5.2"' not in line:
            assert line in document.text, f"lost: {line!r}"
    assert '"model": "openai/gpt-5.2",  // GPT for strategic reasoning' in document.text
    value = loads(document.text)
    assert value["categories"] == {"orch-coder": {"description": "one task per worktree"}}
    assert value["agents"]["sisyphus"] == {"prompt_append": "line one\nline two"}
    assert value["agents"]["oracle"] == {"model": "openai/gpt-5.2", "temperature": 0.2}
    assert value["agents"]["explore"] == {"model": "opencode/grok-code"}
    assert '\n    "sisyphus": {\n      "prompt_append"' in document.text, "indented like the file"


def test_replacing_a_value_touches_only_that_value() -> None:
    document = JsoncDocument(USER_CONFIG)
    assert document.set(["agents", "explore", "model"], "local/small")
    expected = USER_CONFIG.replace('"opencode/grok-code"', '"local/small"')
    assert document.text == expected


def test_setting_the_same_value_again_changes_nothing() -> None:
    document = JsoncDocument(USER_CONFIG)
    assert not document.set(["agents", "oracle", "model"], "openai/gpt-5.2")
    assert document.text == USER_CONFIG


@pytest.mark.parametrize("text, expected", [
    ("{}", '{\n  "a": {\n    "b": 1\n  }\n}'),
    ('{\n    "x": 1\n}\n', '{\n    "x": 1,\n    "a": {\n        "b": 1\n    }\n}\n'),
    ('{ // nothing yet\n}\n', '{ // nothing yet\n  "a": {\n    "b": 1\n  }\n}\n'),
    ('{"x": 1}', '{"x": 1, "a": {"b": 1}}'),
    ('{"x": 1,}', '{"x": 1, "a": {"b": 1}}'),
])
def test_insertion_fits_the_layout_it_finds(text: str, expected: str) -> None:
    document = JsoncDocument(text)
    document.set(["a", "b"], 1)
    assert document.text == expected
    assert loads(document.text)["a"] == {"b": 1}


def test_get_follows_key_paths() -> None:
    document = JsoncDocument(USER_CONFIG)
    assert document.get(["agents", "oracle", "model"]) == "openai/gpt-5.2"
    assert document.get(["agents", "nobody"]) is MISSING
    assert document.get(["disabled_hooks", "x"]) is MISSING


@pytest.mark.parametrize("text, line", [
    ('{\n  "a": 1\n  "b": 2\n}', 3),
    ('{\n  "a": [1, 2\n}', 3),
    ('{\n  /* never closed\n}', 2),
    ('{\n  "a": tru\n}', 2),
    ('{"a": 1} extra', 1),
])
def test_broken_files_are_reported_with_their_line(text: str, line: int) -> None:
    with pytest.raises(BadInput) as error:
        loads(text)
    assert error.value.problem.line == line


def test_strings_keep_escapes_and_unicode() -> None:
    document = JsoncDocument('{"a": "tab\\there \\u00e9"}')
    assert document.value == {"a": "tab\there é"}
    document.set(["b"], "naïve \"quoted\"")
    assert json.loads(document.text) == {"a": "tab\there é", "b": 'naïve "quoted"'}
