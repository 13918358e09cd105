"""A diff kept file by file: git's output split per file, spliced in git's order, and shown
whole when it cannot be split."""

from __future__ import annotations

from pathlib import Path

import pytest

from orch_tui.orchestration.lanes.file_diffs import FileDiffs, UnsplittableDiff, parse_diff

_NEW = ":000000 100644 0000000 e69de29 A\0{name}\0"
_PATCH = "diff --git a/{name} b/{name}\nnew file mode 100644\nindex 0000000..e69de29\n"


def output(*names: str, patches: tuple[str, ...] | None = None) -> bytes:
    raw = "".join(_NEW.format(name=name) for name in names)
    patch = "".join(_PATCH.format(name=name) for name in (names if patches is None else patches))
    return f"{raw}\0{patch}".encode()


def test_a_refresh_of_a_folder_replaces_everything_under_it_and_keeps_gits_order(tmp_path: Path) -> None:
    kept = FileDiffs()
    kept.replace_all(parse_diff(output("a/x.py", "a/y.py", "b.py", "lib/z.py"), tmp_path))
    kept.splice(["a", "c.py"], parse_diff(output("a/w.py", "c.py"), tmp_path))
    assert kept.names() == ("a/w.py", "b.py", "c.py", "lib/z.py")
    assert kept.patch() == "".join(_PATCH.format(name=name) for name in kept.names())
    kept.splice(["lib/z.py"], [])  # its change was undone
    assert kept.names() == ("a/w.py", "b.py", "c.py")


def test_a_patch_that_does_not_split_one_part_a_file_is_shown_whole_and_not_spliced(tmp_path: Path) -> None:
    with pytest.raises(UnsplittableDiff) as caught:
        parse_diff(output("a.py", "b.py", patches=("a.py",)), tmp_path)
    kept = FileDiffs()
    kept.replace_unsplit(caught.value)
    assert kept.names() == ("a.py", "b.py") and kept.patch() == _PATCH.format(name="a.py")
    assert not kept.complete  # the next refresh scans the whole tree
