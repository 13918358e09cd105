"""`patterns_overlap` never misses an overlap: checked against brute force (hypothesis).

Two ways to find a path matching both patterns: every path over a small alphabet up to three
segments (exhaustive), and paths built to match the first pattern (a witness per example).
Whenever one matches both, `patterns_overlap` must say so, both ways round. The opposite
direction (never a false "yes") is not promised: see the module docstring of
orchestration/infra/patterns.py for its deliberate over-approximations.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from itertools import product

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orch_tui.orchestration.infra.patterns import _glob_tokens, path_matches, patterns_overlap

LETTERS = "ab."
TOKENS = ["a", "b", ".", "md", "*", "?", "[ab]", "[!a]", "[a-b]", "[.]", "[", "]"]
# Every path of up to three segments over these names: enough for the token alphabet above.
NAMES = ["a", "b", ".", "ab", "ba", ".a", "a.", "bb", "a.md", "[", "]", "a[", "b]"]
ALL_PATHS = ["/".join(parts) for size in (1, 2, 3) for parts in product(NAMES, repeat=size)]

segment_globs = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3).map("".join)
segments = st.one_of(segment_globs, segment_globs, st.just("**"))
patterns = st.builds(
    lambda parts, lead, trail: lead + "/".join(parts) + trail,
    st.lists(segments, min_size=1, max_size=4),
    st.sampled_from(["", "", "./"]), st.sampled_from(["", "", "/"]))


@st.composite
def path_matching_segments(draw: st.DrawFn, pattern: str) -> str:
    """A path built by filling each segment glob with something it may match."""
    built: list[str] = []
    for segment in pattern.strip("/").removeprefix("./").split("/"):
        if segment == "**":
            built += draw(st.lists(st.sampled_from(NAMES), max_size=2))
            continue
        built.append(draw(_filled(segment)))
    built += draw(st.lists(st.sampled_from(NAMES), max_size=2))  # below a directory pattern
    return "/".join(part for part in built if part)


def _filled(glob: str) -> st.SearchStrategy[str]:
    # The product's tokenizer only proposes a path; path_matches (fnmatch) checks it.
    pieces: list[st.SearchStrategy[str]] = []
    for token in _glob_tokens(glob):
        if token == "*":
            pieces.append(st.text(LETTERS, max_size=3))
        elif token == "?":
            pieces.append(st.sampled_from(LETTERS))
        elif token.startswith("["):
            members = [char for char in LETTERS + "[]-!" if fnmatchcase(char, token)]
            pieces.append(st.sampled_from(members or ["a"]))
        else:
            pieces.append(st.just(token))
    return st.tuples(*pieces).map("".join) if pieces else st.just("")


@given(patterns, patterns)
@example("[ab]", "*b")                       # b matches both (missed before the fix)
@example("docs/*/**/**", "docs/*.md")        # docs/x.md matches both (missed before the fix)
@example("a[", "a[*")
def test_no_path_matches_both_unless_they_overlap(first: str, second: str) -> None:
    witness = next((path for path in ALL_PATHS
                    if path_matches(path, first) and path_matches(path, second)), None)
    if witness is not None:
        assert patterns_overlap(first, second), f"{witness!r} matches both"
        assert patterns_overlap(second, first), f"{witness!r} matches both"


@given(st.data(), patterns, patterns)
def test_a_path_built_from_one_pattern_that_matches_the_other_is_an_overlap(
        data: st.DataObject, first: str, second: str) -> None:
    path = data.draw(path_matching_segments(first))
    if path and path_matches(path, first) and path_matches(path, second):
        assert patterns_overlap(first, second), f"{path!r} matches both"
        assert patterns_overlap(second, first), f"{path!r} matches both"


@given(patterns, patterns)
def test_overlap_is_symmetric_and_reflexive(first: str, second: str) -> None:
    assert patterns_overlap(first, second) == patterns_overlap(second, first)
    if any(path_matches(path, first) for path in ALL_PATHS):
        assert patterns_overlap(first, first)


@pytest.mark.parametrize(("first", "second"), [
    ("[ab]", "*b"), ("docs/*/**/**", "docs/*.md"), ("[!a]x", "?x"), ("a*b*c", "*c"),
    ("[a-c]", "b"), ("[]]", "]"), ("x/**/**/y", "x/y"),
])
def test_overlaps_once_missed_are_found(first: str, second: str) -> None:
    assert patterns_overlap(first, second) and patterns_overlap(second, first)


@pytest.mark.parametrize(("first", "second"), [
    ("[ab]", "*c"), ("[!a]", "a"), ("a*", "b*"), ("*.py", "*.md"), ("x/**/y.py", "x/**/y.md"),
])
def test_exact_where_it_costs_nothing(first: str, second: str) -> None:
    assert not patterns_overlap(first, second) and not patterns_overlap(second, first)
