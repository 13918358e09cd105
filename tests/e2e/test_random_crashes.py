"""Randomized crashes (tests/support/crash_trials.py): `orch-tui run --yes` killed with SIGKILL (its
whole process group) after random delays, several times per generated repository, then
run to the end; every task closed with its work on main, the checkout clean, no leftover
worktree, `git fsck` clean.

CI runs CI_KILL_POINTS kill points in each mode. The soak (README) raises the count:

    ORCH_CRASH_KILL_POINTS=300 .venv/bin/python -m pytest tests/e2e/test_random_crashes.py -s

The seed is printed; ORCH_CRASH_SEED=<seed> replays the same repositories and delays.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.agent_mail_server import running_agent_mail
from tests.support.crash_trials import NO_AGENT_MAIL, run_trials, seed_from_environment, summary
from tests.support.helpers import agent_mail_python

CI_KILL_POINTS = 30
KILLS_PER_REPOSITORY = 6
MAX_DELAY_SECONDS = 2.6
"""A whole run takes 4-6 s: kills land from start-up to the last merge."""


def _kill_points() -> int:
    return int(os.environ.get("ORCH_CRASH_KILL_POINTS", CI_KILL_POINTS))


# Generous: a kill point costs about two seconds (a start-up and the delay), and two
# cores are shared; the soak's count raises the limit with it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120 + 10 * _kill_points())]


def _run(root: Path, mode: str, agent_mail_url: str) -> None:
    seed = seed_from_environment()
    print(f"\nrandom crash trials ({mode}): seed {seed}; replay with ORCH_CRASH_SEED={seed}", flush=True)
    results, landed = run_trials(root, seed, _kill_points(), KILLS_PER_REPOSITORY, MAX_DELAY_SECONDS,
                                 agent_mail_url)
    report = summary(results, landed)
    print(f"{mode}: {report}", flush=True)
    assert landed >= _kill_points()
    assert not any(result.problems for result in results), f"{report}\n\nreplay with ORCH_CRASH_SEED={seed}"


def test_killed_at_random_in_sequential_mode_nothing_is_lost(tmp_path: Path) -> None:
    _run(tmp_path, "sequential", NO_AGENT_MAIL)


@pytest.mark.agent_mail
def test_killed_at_random_in_parallel_mode_nothing_is_lost(tmp_path: Path) -> None:
    agent_mail_python()
    with running_agent_mail(tmp_path / "mail") as server:
        _run(tmp_path / "trials", "parallel", server.url)
