"""The conflict resolver reproduces exactly the bytes a person chose (hypothesis).

Files are built from blocks: anchor lines shared by all three versions, blocks the same in
all three, and conflict blocks where base, ours and theirs all differ. Resolving each conflict
hunk as ours, theirs or both must write exactly the anchors and same blocks plus the chosen
sides, with every line ending (`\\n`, `\\r\\n`) and the final newline (or its absence) kept.
Real git (merge-file, as the merge worktree uses) does the three-way merge.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orch_tui.orchestration.merging.conflicts import hunk_count, write_hunk_choices
from tests.support.helpers import git


@dataclass(frozen=True)
class Block:
    base: bytes
    ours: bytes
    theirs: bytes

    @property
    def conflicted(self) -> bool:
        return not (self.base == self.ours == self.theirs)


endings = st.sampled_from([b"\n", b"\r\n"])
words = st.text("abcxyz ", min_size=1, max_size=8).map(str.encode)


def _lines(tag: bytes, index: int) -> st.SearchStrategy[bytes]:
    # Side-unique text, so diff aligns the three versions on the anchors and same blocks only.
    line = st.tuples(words, endings).map(lambda pair: tag + b"%d-" % index + pair[0] + pair[1])
    return st.lists(line, min_size=1, max_size=3).map(b"".join)


@st.composite
def documents(draw: st.DrawFn) -> list[Block]:
    blocks: list[Block] = []
    for index in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            same = draw(_lines(b"s", index))
            blocks.append(Block(same, same, same))
        else:
            blocks.append(Block(draw(_lines(b"b", index)), draw(_lines(b"o", index)),
                                draw(_lines(b"t", index))))
        blocks.append(Block(*[b"anchor-%d" % index + draw(endings)] * 3))
    if draw(st.booleans()):
        blocks.pop()  # end on a block instead of an anchor
    last = blocks[-1]
    # Each version may lack its final newline: independently when the file ends in a
    # conflict, together when it ends in common text.
    if last.conflicted:
        blocks[-1] = Block(*(_chop(side) if draw(st.booleans()) else side
                             for side in (last.base, last.ours, last.theirs)))
    elif draw(st.booleans()):
        blocks[-1] = Block(*[_chop(last.base)] * 3)
    return blocks


def _chop(text: bytes) -> bytes:
    return text.removesuffix(b"\n").removesuffix(b"\r")


def _joined(first: bytes, second: bytes) -> bytes:
    """Both sides, the second on a line of its own even when the first ended its file."""
    if first and second and not first.endswith(b"\n"):
        return first + (b"\r\n" if b"\r\n" in first else b"\n") + second
    return first + second


def _expected(blocks: list[Block], choices: list[str]) -> bytes:
    out, conflicts = [], iter(choices)
    for block in blocks:
        if not block.conflicted:
            out.append(block.ours)
            continue
        choice = next(conflicts)
        out.append({"ours": block.ours, "theirs": block.theirs,
                    "both": _joined(block.ours, block.theirs)}[choice])
    return b"".join(out)


@pytest.fixture(scope="module")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("conflict-objects")
    git(repo, "init", "-q")
    return repo


def _blob(repo: Path, data: bytes) -> str:
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data,
                          capture_output=True, check=True).stdout.decode().strip()


@given(documents(), st.data())
def test_choosing_ours_theirs_or_both_per_hunk_writes_exactly_those_bytes(
        object_store: Path, blocks: list[Block], data: st.DataObject) -> None:
    stages = {1: _blob(object_store, b"".join(b.base for b in blocks)),
              2: _blob(object_store, b"".join(b.ours for b in blocks)),
              3: _blob(object_store, b"".join(b.theirs for b in blocks))}
    conflicts = sum(block.conflicted for block in blocks)
    assert hunk_count(object_store, stages) == conflicts
    choices = data.draw(st.lists(st.sampled_from(["ours", "theirs", "both"]),
                                 min_size=conflicts, max_size=conflicts))
    write_hunk_choices(object_store, "resolved.txt", stages, dict(enumerate(choices)))
    written = (object_store / "resolved.txt").read_bytes()
    assert written == _expected(blocks, choices)


def test_a_file_without_final_newline_keeps_it_missing(object_store: Path) -> None:
    stages = {1: _blob(object_store, b"a\nbase"), 2: _blob(object_store, b"a\nours"),
              3: _blob(object_store, b"a\ntheirs\n")}
    write_hunk_choices(object_store, "ours.txt", stages, {0: "ours"})
    assert (object_store / "ours.txt").read_bytes() == b"a\nours"
    write_hunk_choices(object_store, "both.txt", stages, {0: "both"})
    assert (object_store / "both.txt").read_bytes() == b"a\nours\ntheirs\n"
