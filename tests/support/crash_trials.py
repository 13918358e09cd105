"""Randomized crash trials: `orch-tui run --yes` SIGKILLed at random moments, then run to the end.

One trial is one generated repository (12-16 scripted tasks in dependency layers). The real
CLI runs as a subprocess in its own process group, in a HOME with no git configuration; it
is killed (the whole group, as a crash or a closed terminal would) after a random delay,
several times in a row, and then one run must finish the work. Afterwards every task is
closed with its work on the target branch, the person's checkout is clean (but for the
tracker's changes, which the orchestrator writes there), no worktree entry is left over or prunable,
and `git fsck` is clean.

Everything random comes from one seed, printed with every failure: set ORCH_CRASH_SEED to
replay it. Used by tests/e2e/test_random_crashes.py (CI counts) and the soak command (README).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.helpers import git
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

ORCH = [sys.executable, "-m", "orch_tui.app"]
NO_AGENT_MAIL = "http://127.0.0.1:9/mcp/"
FINAL_RUN_SECONDS = 240
IDENTITY_KEYS = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                 "EMAIL", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM")


def seed_from_environment(default: int | None = None) -> int:
    text = os.environ.get("ORCH_CRASH_SEED")
    if text:
        return int(text)
    return default if default is not None else random.SystemRandom().randrange(1, 2**31)


def generated_tasks(rng: random.Random, prefix: str) -> list[TaskSpec]:
    """12-16 tasks in layers of 2-4; each task after the first layer depends on 1-2 tasks of
    the layer before. Each writes its own file in one to three short scripted steps."""
    count = rng.randint(12, 16)
    tasks: list[TaskSpec] = []
    previous: list[str] = []
    while len(tasks) < count:
        layer: list[str] = []
        for _ in range(min(rng.randint(2, 4), count - len(tasks))):
            number = len(tasks) + 1
            task_id = f"{prefix}-{number}"
            own = f"src/{task_id}.txt"
            steps = [{"append": own, "delay": round(rng.uniform(0.02, 0.25), 3)}
                     for _ in range(rng.randint(1, 3))]
            depends = tuple(rng.sample(previous, min(len(previous), rng.randint(1, 2)))) if previous else ()
            tasks.append(TaskSpec(task_id, (own,), depends_on=depends, priority=rng.randint(0, 3),
                                  script={"steps": steps}))
            layer.append(task_id)
        previous = layer
    return tasks


@dataclass
class Trial:
    """One generated repository and what happened to it."""

    root: Path
    seed: int
    tasks: list[TaskSpec]
    agent_mail_url: str = NO_AGENT_MAIL
    kills: int = 0
    runs: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def lanes(self) -> Path:
        return self.root / "lanes"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def describe(self) -> str:
        return (f"trial seed {self.seed}, repository {self.repo}, "
                f"{len(self.tasks)} tasks, {self.kills} kill(s)")


def make_trial(root: Path, seed: int, agent_mail_url: str = NO_AGENT_MAIL, *,
               tasks: list[TaskSpec] | None = None, settings: str = "") -> Trial:
    """A repository of `tasks` (generated from `seed` when None) with orch-tui configured."""
    tasks = tasks if tasks is not None else generated_tasks(random.Random(seed), "kc")
    root.mkdir(parents=True, exist_ok=True)
    trial = Trial(root, seed, tasks, agent_mail_url)
    trial.home.mkdir(exist_ok=True)
    make_task_repo(trial.repo, tasks)
    # HOME has no git configuration at all and the repository no identity: a fresh machine,
    # where orch-tui's own commits are made as orch-tui.
    (trial.repo / ".orch-tui.toml").write_text(
        f'agent = "scripted"\nworktree_dir = "{trial.lanes}"\nagent_mail_url = "{agent_mail_url}"\n{settings}')
    (trial.repo / ".git" / "info" / "exclude").write_text(".orch-tui.toml\n")
    return trial


def _environment(trial: Trial) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in IDENTITY_KEYS}
    env.update({"HOME": str(trial.home), "NO_COLOR": "1", "GIT_CONFIG_NOSYSTEM": "1",
                "XDG_CONFIG_HOME": str(trial.home / ".config")})
    return env


def start_run(trial: Trial) -> subprocess.Popen[bytes]:
    trial.runs += 1
    output = (trial.root / "output.log").open("ab")
    output.write(f"\n===== run {trial.runs} =====\n".encode())
    output.flush()
    try:
        return subprocess.Popen([*ORCH, "run", "--repo", str(trial.repo), "--yes"], stdout=output,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_environment(trial),
                                start_new_session=True)
    finally:
        output.close()


def kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def kill_after(trial: Trial, delay: float) -> bool:
    """Run, SIGKILL the process group after `delay` seconds; False when it finished first."""
    process = start_run(trial)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        kill_group(process)
        trial.kills += 1
        trial.log.append(f"killed after {delay:.2f} s")
        return True
    kill_group(process)  # anything it left running in its group
    trial.log.append(f"finished by itself (exit {process.returncode}) before {delay:.2f} s")
    return False


def run_to_the_end(trial: Trial) -> tuple[int, str]:
    process = start_run(trial)
    try:
        process.wait(timeout=FINAL_RUN_SECONDS)
    except subprocess.TimeoutExpired:
        kill_group(process)
        return -1, output_tail(trial)
    kill_group(process)
    return process.returncode, output_tail(trial)


def output_tail(trial: Trial, lines: int = 60) -> str:
    text = (trial.root / "output.log").read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def check_invariants(trial: Trial, final_code: int, final_output: str) -> list[str]:
    """What is wrong after the run to the end (empty when the trial passed)."""
    problems: list[str] = []
    repo = trial.repo
    if final_code != 0 or "Nothing is ready to run." not in final_output:
        problems.append(f"the run to the end exited {final_code} without finishing")
    statuses = read_statuses(repo)
    not_closed = {task: status for task, status in statuses.items() if status != "closed"}
    if not_closed:
        problems.append(f"tasks not closed: {not_closed}")
    for task in trial.tasks:
        path = repo / task.files[0]
        if not path.exists() or f"{task.id}:" not in path.read_text():
            problems.append(f"{task.id}'s work is not on main ({task.files[0]})")
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout
    dirty = [line for line in status.splitlines() if line != " M .beads/issues.jsonl"]
    if dirty:
        problems.append(f"the person's checkout is not clean: {dirty}")
    worktrees = git(repo, "worktree", "list", "--porcelain")
    if "prunable" in worktrees:
        problems.append(f"a worktree entry is prunable:\n{worktrees}")
    lanes = os.path.realpath(trial.lanes)
    for line in worktrees.splitlines():
        if line.startswith("worktree "):
            path = os.path.realpath(line.split(" ", 1)[1])
            if path != os.path.realpath(repo) and os.path.dirname(path) != lanes:
                problems.append(f"unexpected worktree {path}")
    pruned = git(repo, "worktree", "prune", "--dry-run", "--verbose")
    if pruned:
        problems.append(f"git worktree prune would remove: {pruned}")
    fsck = subprocess.run(["git", "fsck", "--no-progress", "--no-dangling"], cwd=repo, capture_output=True,
                          text=True, check=False)
    if fsck.returncode != 0 or fsck.stdout.strip() or fsck.stderr.strip():
        problems.append(f"git fsck: {fsck.stdout}{fsck.stderr}")
    if "<<<<<<<" in git(repo, "grep", "-l", "-e", "<<<<<<<", "main", check=False):
        problems.append("conflict markers on main")
    return problems


@dataclass
class TrialResult:
    trial: Trial
    problems: list[str]

    def report(self) -> str:
        lines = [f"FAILED: {self.trial.describe()}", *self.problems, "kills: " + "; ".join(self.trial.log),
                 "last output:", output_tail(self.trial)]
        return "\n".join(lines)


def run_trial(root: Path, seed: int, kills: int, max_delay: float,
              agent_mail_url: str = NO_AGENT_MAIL) -> TrialResult:
    """One repository, `kills` random kill points, then a run to the end; its problems."""
    trial = make_trial(root, seed, agent_mail_url)
    rng = random.Random(seed ^ 0x5EED)
    for _ in range(kills):
        if not kill_after(trial, rng.uniform(0.5, max_delay)):
            break  # the work is done: no later kill point can land in it
    code, output = run_to_the_end(trial)
    return TrialResult(trial, check_invariants(trial, code, output))


def run_trials(root: Path, seed: int, kill_points: int, kills_per_repo: int, max_delay: float,
               agent_mail_url: str = NO_AGENT_MAIL) -> tuple[list[TrialResult], int]:
    """Trials until `kill_points` kills landed; (results, kill points)."""
    rng = random.Random(seed)
    results: list[TrialResult] = []
    landed = 0
    while landed < kill_points:
        trial_seed = rng.randrange(1, 2**31)
        result = run_trial(root / f"trial-{len(results) + 1}", trial_seed,
                           min(kills_per_repo, kill_points - landed), max_delay, agent_mail_url)
        results.append(result)
        landed += result.trial.kills
        print(f"trial {len(results)}: seed {trial_seed}, {result.trial.kills} kill(s), "
              f"{'ok' if not result.problems else 'FAILED'}", flush=True)
    return results, landed


def summary(results: list[TrialResult], landed: int) -> str:
    failed = [result for result in results if result.problems]
    return (f"{len(results)} repositories, {landed} kill points, {len(failed)} failed"
            + "".join(f"\n\n{result.report()}" for result in failed))


if __name__ == "__main__":  # quick manual trial: python -m tests.support.crash_trials DIR [AGENT_MAIL_URL]
    target = Path(sys.argv[1])
    chosen = seed_from_environment()
    print(f"seed {chosen}")
    outcome = run_trial(target, chosen, int(os.environ.get("ORCH_CRASH_KILLS", "6")), 4.0,
                        *(sys.argv[2:3] or []))
    print(json.dumps(outcome.problems, indent=2) if outcome.problems else "ok")
