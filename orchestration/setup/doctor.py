"""`orch-tui doctor`: one row for each thing orch-tui depends on, each ok / warn / fail with a fix.

Rows are plain data (`Check`): the CLI prints them as a table or JSON, the dashboard shows
the failing ones once at start. Every check is bounded in time (subprocess timeouts, the
Agent Mail client's timeout, a startup limit for `opencode serve`) and none raises: trouble
becomes a row. Tokens are never printed, only whether one is set.

Exit code of the command (`exit_code`): 0 every row ok, 1 some warnings (orch-tui runs,
with less: e.g. no Agent Mail, so reservations stay local), 2 some failure (something
orch-tui needs is missing or broken: e.g. no commit, no Beads tracker, no agent binary).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Callable, Mapping, Sequence

from orch_tui.orchestration.settings.config import Config, load_config
from orch_tui.orchestration.errors import OrchError

GIT_MIN_VERSION = (2, 38)
"""`git merge-tree --write-tree` (conflict prediction) arrived in 2.38."""
COMMAND_TIMEOUT_SECONDS = 10.0
SERVE_TIMEOUT_SECONDS = 30.0
"""How long `opencode serve` may take to start before the row says it did not."""
DISK_WARN_BYTES = 2 * 1024**3
DISK_FAIL_BYTES = 200 * 1024**2


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {**asdict(self), "status": self.status.value}


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def warn(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


def exit_code(checks: Sequence[Check]) -> int:
    """0 all ok, 1 warnings only, 2 any failure."""
    statuses = {check.status for check in checks}
    return 2 if Status.FAIL in statuses else 1 if Status.WARN in statuses else 0


def _run(argv: Sequence[str], cwd: Path | None = None, timeout: float = COMMAND_TIMEOUT_SECONDS,
         env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """(exit status, stdout+stderr) of a command; 127 when it cannot start, 124 on timeout."""
    try:
        done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL,
                              env={**os.environ, **env} if env else None)
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except PermissionError as error:
        return 126, f"{argv[0]}: {error.strerror}"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]} did not answer within {timeout:.0f} s"
    return done.returncode, (done.stdout + done.stderr).strip()


def _git(repo: Path, *args: str) -> tuple[int, str]:
    return _run(["git", *args], repo)


# ------------------------------------------------------------------ git

def check_git_version(binary: str = "git") -> Check:
    status, output = _run([binary, "version"])
    if status != 0:
        return fail("git", f"git does not run: {output}", "install git 2.38 or newer")
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", output)
    version = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    shown = found.group(0) if found else output
    if version < GIT_MIN_VERSION:
        return fail("git", f"git {shown}: conflict prediction needs 2.38 (git merge-tree --write-tree)",
                    "upgrade git to 2.38 or newer")
    return ok("git", f"git {shown}")


def check_git_identity(repo: Path) -> Check:
    def setting(key: str, *variables: str) -> str:
        status, value = _git(repo, "config", key)
        return value if status == 0 and value else next(
            (os.environ[name] for name in variables if os.environ.get(name)), "")

    name = setting("user.name", "GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME")
    email = setting("user.email", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL")
    if name and email:
        return ok("git identity", f"{name} <{email}>")
    missing = " and ".join(word for word, value in (("user.name", name), ("user.email", email)) if not value)
    return warn("git identity", f"no {missing}: commits of merges and conflict resolutions need one",
                'git config user.name "Your Name" && git config user.email you@example.com')


# ------------------------------------------------------------------ repository

def check_repository(repo: Path) -> list[Check]:
    """Commits, branch (detached HEAD), dirty checkout."""
    status, output = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD")
    if status != 0:
        return [fail("repository", f"{repo} has no commit yet", "make a first commit (git commit)")]
    count = _git(repo, "rev-list", "--count", "HEAD")[1]
    rows = [ok("repository", f"{repo}: {count} commit(s)")]
    status, branch = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    if status != 0:
        rows.append(warn("branch", f"detached HEAD at {output[:12]}: merges need a target branch",
                         "git switch <branch>, or set target_branch in .orch-tui.toml"))
    else:
        rows.append(ok("branch", f"on {branch}"))
    changed = [line for line in _git(repo, "status", "--porcelain", "--untracked-files=no")[1].splitlines() if line]
    if changed:
        rows.append(warn("checkout", f"{len(changed)} uncommitted change(s) in the main checkout",
                         "commit or stash them before merges move the branch (git stash)"))
    else:
        rows.append(ok("checkout", "clean"))
    return rows


def check_worktree_pool(repo: Path, config: Config) -> Check:
    from orch_tui.orchestration.lanes.worktrees import WorktreePool, pool_root

    try:
        pool = WorktreePool(repo, config.batch_size, pool_root(repo, config.worktree_dir))
        lanes = pool.lanes
    except OrchError as error:
        return fail("worktree pool", str(error), "fix worktree_dir in .orch-tui.toml, or remove it")
    strays = [lane.path for lane in lanes if not lane.exists and Path(lane.path).exists()]
    if strays:
        return fail("worktree pool", f"{strays[0]} exists but is not a worktree of {repo}",
                    "move that directory away, or choose another worktree_dir")
    created = sum(lane.exists for lane in lanes)
    return ok("worktree pool", f"{created} of {len(lanes)} lane(s) created under {pool.root}")


def check_disk(path: Path) -> Check:
    where = path if path.exists() else path.parent
    free = shutil.disk_usage(where).free
    shown = f"{free / 1024**3:.1f} GiB free at {where}"
    if free < DISK_FAIL_BYTES:
        return fail("disk", shown, "free some space: every lane is a full checkout")
    if free < DISK_WARN_BYTES:
        return warn("disk", shown, "free some space: every lane is a full checkout")
    return ok("disk", shown)


# ------------------------------------------------------------------ Beads

def check_beads(repo: Path) -> list[Check]:
    """The store orch-tui would open (JSONL or bd), and bd itself."""
    from orch_tui.orchestration.tracker.beads import open_store
    from orch_tui.orchestration.tracker.beads_bd import probe_bd

    rows: list[Check] = []
    bd = shutil.which("bd")
    if bd is None:
        rows.append(ok("bd", "not on PATH: orch-tui reads and writes the JSONL itself"))
    else:
        version, failure = probe_bd(repo, bd)
        rows.append(ok("bd", f"bd {version} at {bd}") if version is not None else
                    warn("bd", f"bd at {bd} does not answer here: {failure}",
                         "run `bd doctor` in the repository (orch-tui uses the JSONL meanwhile)"))
    try:
        store = open_store(repo)
        graph = store.load()
    except OrchError as error:
        problem = getattr(error, "problem", None)
        fix = getattr(problem, "fix", "") or "see the message"
        message = getattr(problem, "message", str(error))
        return [*rows, fail("beads", message, fix)]
    detail = f"{store.description}: {len(graph)} task(s)"
    if graph.problems:
        rows.append(warn("beads", f"{detail}, {len(graph.problems)} problem(s): {graph.problems[0]}",
                         "correct the lines named (orch-tui skips them meanwhile)"))
    else:
        rows.append(ok("beads", detail))
    return rows


# ------------------------------------------------------------------ the agent

async def check_agent(config: Config, *, start_server: bool = True,
                      serve_timeout: float = SERVE_TIMEOUT_SECONDS,
                      env: Mapping[str, str] | None = None) -> list[Check]:
    """The configured runner: binary, version, model and provider, and (OpenCode) whether
    `opencode serve` starts within `serve_timeout`. `env` is added to the children's."""
    if config.agent == "scripted":
        return [ok("agent", "scripted agents (the demo's; they edit by script, no model)")]
    if config.agent == "command":
        return [_check_command_agent(config)]
    binary = shutil.which(config.opencode_binary)
    if binary is None:
        return [fail("agent", f"{config.opencode_binary} is not on PATH",
                     "install OpenCode (https://opencode.ai), set opencode_binary, "
                     "or try `orch-tui demo` (scripted agents)")]
    status, output = await asyncio.to_thread(_run, [binary, "--version"], None,
                                             COMMAND_TIMEOUT_SECONDS, env)
    if status != 0:
        return [fail("agent", f"{binary} --version failed: {output[:200]}",
                     "reinstall OpenCode, or set opencode_binary to a working one")]
    rows = [ok("agent", f"OpenCode {output.splitlines()[-1] if output else '?'} at {binary}")]
    rows.append(_check_model(config))
    if start_server:
        rows.append(await _check_serve(config, serve_timeout, env))
    return rows


def _check_command_agent(config: Config) -> Check:
    if not config.agent_command:
        return fail("agent", "agent = command but agent_command is empty",
                    'set agent_command = ["my-agent", "{prompt_file}"] in .orch-tui.toml')
    program = config.agent_command[0]
    if shutil.which(program) is None and not Path(program).is_file():
        return fail("agent", f"{program} (agent_command) is not on PATH", "install it or fix agent_command")
    return ok("agent", f"command agent: {program}")


def _check_model(config: Config) -> Check:
    model = config.opencode_model
    if not model:
        return ok("model", "not set: OpenCode uses its own default model")
    provider, slash, name = model.partition("/")
    if not slash or not provider or not name:
        return fail("model", f"opencode_model {model!r} is not provider/model",
                    'write it as "provider/model", e.g. "anthropic/claude-sonnet-4"')
    return ok("model", f"{name} from provider {provider}")


async def _check_serve(config: Config, timeout: float, env: Mapping[str, str] | None) -> Check:
    from orch_tui.orchestration.agents.opencode_server import OpenCodeServerRunner

    runner = OpenCodeServerRunner(config.opencode_binary, config.opencode_model, env=env,
                                  startup_timeout=timeout)
    try:
        await asyncio.wait_for(runner.start(), timeout + 35)
    except (OrchError, OSError, TimeoutError) as error:
        return fail("opencode serve", f"did not start: {str(error)[:300] or 'timed out'}",
                    "run `opencode serve` by hand to see why (login, config, port)")
    finally:
        await runner.close()
    return ok("opencode serve", "starts and answers")


# ------------------------------------------------------------------ Agent Mail

async def check_agent_mail(config: Config) -> list[Check]:
    from orch_tui.orchestration.reservations.agent_mail import AgentMailClient, AgentMailError

    if config.reservations == "local":
        return [ok("agent mail", "not used (reservations = local)")]
    token = os.environ.get(config.agent_mail_token_env) or None
    token_row = (ok("agent mail token", f"set in ${config.agent_mail_token_env}") if token else
                 ok("agent mail token", f"${config.agent_mail_token_env} not set (a local server needs none)"))
    async with AgentMailClient(config.agent_mail_url, token=token, timeout=5.0) as client:
        if not await client.liveness():
            fallback = ("lanes run one at a time (reservations = agent-mail)"
                        if config.reservations == "agent-mail"
                        else "lanes use local reservations other agents cannot see")
            return [warn("agent mail", f"not answering at {client.base_url}: {fallback}",
                         "start it (python -m mcp_agent_mail.cli serve-http), fix agent_mail_url, "
                         'or set reservations = "local"'), token_row]
        try:
            build = await client.detect_build(refresh=True)
        except AgentMailError as error:
            return [fail("agent mail", f"answers at {client.base_url} but refuses us: {error}",
                         f"check the token in ${config.agent_mail_token_env} and the server's auth settings"),
                    token_row]
    return [ok("agent mail", f"{build.name} build at {client.base_url}"), token_row]


# ------------------------------------------------------------------ skills and config

def check_skills(repo: Path) -> Check:
    from orch_tui.orchestration.setup.installer import MANIFEST, install

    if not (repo / MANIFEST).is_file():
        return warn("skills", "not installed: Sisyphus has no /orch-* commands here",
                    "orch-tui init")
    try:
        report = install(repo, dry_run=True)
    except OrchError as error:
        return fail("skills", f"cannot compare them: {error}", "orch-tui init")
    if report.changed:
        return warn("skills", f"out of date: {', '.join(change.path for change in report.changes[:3])}",
                    "orch-tui init")
    return ok("skills", "installed and current")


def check_config(repo: Path) -> tuple[Check, Config]:
    """The config row and the config the other rows use (the defaults when it is broken)."""
    try:
        config = load_config(repo)
    except OrchError as error:
        problem = getattr(error, "problem", None)
        return fail("config", str(problem or error), getattr(problem, "fix", "") or "correct it"), Config()
    return ok("config", config.source if config.source != "defaults" else "defaults (no config file)"), config


# ------------------------------------------------------------------ all rows

async def run_checks(repo: Path, *, agent: str | None = None, agent_mail_url: str | None = None,
                     start_server: bool = True, serve_timeout: float = SERVE_TIMEOUT_SECONDS) -> list[Check]:
    """Every row, in the order a person fixes things. `agent` and `agent_mail_url` override
    the config file (command-line options); `start_server=False` skips `opencode serve`."""
    config_row, config = await asyncio.to_thread(check_config, repo)
    config = replace(config, agent=agent or config.agent,
                     agent_mail_url=agent_mail_url or config.agent_mail_url)
    sync_rows: list[Callable[[], list[Check] | Check]] = [
        check_git_version, lambda: check_git_identity(repo), lambda: check_repository(repo),
        lambda: check_worktree_pool(repo, config), lambda: check_disk(repo.parent),
        lambda: check_beads(repo),
    ]
    rows: list[Check] = [config_row]
    for row in sync_rows:
        found = await asyncio.to_thread(row)
        rows.extend(found if isinstance(found, list) else [found])
    rows.extend(await check_agent(config, start_server=start_server, serve_timeout=serve_timeout))
    rows.extend(await check_agent_mail(config))
    rows.append(await asyncio.to_thread(check_skills, repo))
    return rows
