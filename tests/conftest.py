from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.helpers import make_repo

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

# Property tests (hypothesis): derandomized, so every run tries the same examples and a
# failure reproduces; all of them together stay well under a minute. HYPOTHESIS_PROFILE=deep
# searches ten times wider with fresh randomness (and prints the seed of a failure).
settings.register_profile("orch-tui", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=600, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "orch-tui"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one commit on `main`."""
    return make_repo(tmp_path / "repo")
