from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import make_repo

# Every git call in the tests (ours and the product's) sees the same identity and no user
# or system configuration, so results do not depend on the machine.
os.environ.update({
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Test Person",
    "GIT_AUTHOR_EMAIL": "person@example.com",
    "GIT_COMMITTER_NAME": "Test Person",
    "GIT_COMMITTER_EMAIL": "person@example.com",
})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one commit on `main`."""
    return make_repo(tmp_path / "repo")
