from __future__ import annotations

import pytest

from orch_tui.orchestration.infra.patterns import first_overlap, path_matches, patterns_overlap


@pytest.mark.parametrize(("path", "pattern", "expected"), [
    ("src/api/users.py", "src/api/**", True),
    ("src/api/v1/users.py", "src/api/*.py", False),
    ("src/api/users.py", "src/api/*.py", True),
    ("docs/index.md", "docs", True),          # a bare directory covers its contents
    ("docs", "docs", True),
    ("documents/a.md", "docs", False),
    ("README.md", "README.md", True),
    ("sub/README.md", "README.md", False),   # patterns are anchored at the repository root
    ("a/b/c/d.txt", "a/**/d.txt", True),
    ("a/d.txt", "a/**/d.txt", True),
    ("Src/x.py", "src/**", False),           # case-sensitive, as Agent Mail is
])
def test_path_matches(path: str, pattern: str, expected: bool) -> None:
    assert path_matches(path, pattern) is expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("src/api/**", "src/api/users.py", True),
    ("src/api/**", "src/web/**", False),
    ("src", "src/api/users.py", True),
    ("pkg/*/b.py", "pkg/a/*.py", True),       # Agent Mail's known false negative
    ("pkg/*.py", "pkg/*.md", False),
    ("pkg/*.py", "pkg/sub/*.py", False),
    ("**/*.py", "docs/readme.md", False),
    ("**/*.py", "docs/conf.py", True),
    ("./src/", "src/a.py", True),
    ("a/**/z.txt", "a/b/c/z.txt", True),
    ("test_*.py", "*_test.py", True),          # test_x_test.py matches both
    ("*.py", "*.md", False),
    (".", "anything/at/all", True),
    ("src/*", "src/sub/a.py", True),           # a lone * covers directories' contents too
    ("**/*.py", "README.md", False),
])
def test_patterns_overlap_both_ways(a: str, b: str, expected: bool) -> None:
    assert patterns_overlap(a, b) is expected
    assert patterns_overlap(b, a) is expected


def test_first_overlap_names_the_pair() -> None:
    assert first_overlap(["docs/**", "src/api/**"], ["src/web/**", "src/api/users.py"]) == \
        ("src/api/**", "src/api/users.py")
    assert first_overlap(["a/**"], ["b/**"]) is None
