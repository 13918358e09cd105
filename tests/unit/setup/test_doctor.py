"""`orch-tui doctor`: every row ok and failing, on real git repositories, the bd stub, the real
Agent Mail server and the real `opencode` binary; then the command's table, JSON and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orch_tui.app.demo_repo import create_demo_repo
from orch_tui.orchestration.setup import doctor
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.setup.doctor import Check, Status
from orch_tui.orchestration.setup.installer import install
from tests.support.agent_mail_server import free_port, running_agent_mail
from tests.support.fake_model_server import FakeModelServer
from tests.support.helpers import agent_mail_python, git, make_repo, opencode_binary

STUB_BD = Path(__file__).resolve().parents[2] / "stubs" / "bd"
ORCH = [sys.executable, "-m", "orch_tui.app"]


def _row(rows: list[Check], name: str) -> Check:
    return next(row for row in rows if row.name == name)


def _script(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


# ------------------------------------------------------------------ git

def test_git_version_ok_and_too_old_or_missing(tmp_path: Path) -> None:
    assert doctor.check_git_version().status is Status.OK
    old = _script(tmp_path / "bin", "git", 'echo "git version 2.30.1"')
    too_old = doctor.check_git_version(str(old))
    assert too_old.status is Status.FAIL and "2.30.1" in too_old.detail and "2.38" in too_old.fix
    assert doctor.check_git_version(str(tmp_path / "no-git")).status is Status.FAIL


def test_git_identity_ok_and_missing(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)  # a HOME with no identity at all
    missing = doctor.check_git_identity(repo)
    assert missing.status is Status.WARN and "user.name and user.email" in missing.detail
    assert "git config user.name" in missing.fix
    git(repo, "config", "user.name", "Ada")
    git(repo, "config", "user.email", "ada@example.com")
    assert doctor.check_git_identity(repo) == doctor.ok("git identity", "Ada <ada@example.com>")


# ------------------------------------------------------------------ repository

def test_repository_rows_ok(repo: Path) -> None:
    rows = doctor.check_repository(repo)
    assert [(row.name, row.status) for row in rows] == [
        ("repository", Status.OK), ("branch", Status.OK), ("checkout", Status.OK)]
    assert _row(rows, "branch").detail == "on main"


def test_repository_without_commits_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    [row] = doctor.check_repository(empty)
    assert row.status is Status.FAIL and "no commit" in row.detail and "first commit" in row.fix


def test_detached_head_and_dirty_checkout_warn(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    (repo / "README.md").write_text("changed\n")
    rows = doctor.check_repository(repo)
    assert _row(rows, "branch").status is Status.WARN and "detached HEAD" in _row(rows, "branch").detail
    assert "target_branch" in _row(rows, "branch").fix
    assert _row(rows, "checkout").status is Status.WARN
    assert "1 uncommitted change" in _row(rows, "checkout").detail


def test_worktree_pool_ok_and_blocked_by_a_stray_directory(repo: Path, tmp_path: Path) -> None:
    config = Config(worktree_dir=str(tmp_path / "lanes"), batch_size=2)
    good = doctor.check_worktree_pool(repo, config)
    assert good.status is Status.OK and "0 of 2 lane(s)" in good.detail
    (tmp_path / "lanes" / "lane-1").mkdir(parents=True)
    blocked = doctor.check_worktree_pool(repo, config)
    assert blocked.status is Status.FAIL and "is not a worktree" in blocked.detail


def test_disk_ok_and_nearly_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert doctor.check_disk(tmp_path).status is Status.OK
    nearly_full = shutil.disk_usage(tmp_path)._replace(free=50 * 1024**2)
    monkeypatch.setattr(doctor.shutil, "disk_usage", lambda path: nearly_full)
    full = doctor.check_disk(tmp_path)
    assert full.status is Status.FAIL and "0.0 GiB free" in full.detail


# ------------------------------------------------------------------ Beads

@pytest.fixture
def bd_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bd stub of tests/stubs on PATH, with an empty tracker."""
    bin_dir = tmp_path / "bd-bin"
    bin_dir.mkdir()
    script = STUB_BD.read_text(encoding="utf-8").split("\n", 1)[1]
    (bin_dir / "bd").write_text(f"#!{sys.executable}\n{script}", encoding="utf-8")
    (bin_dir / "bd").chmod(0o755)
    (tmp_path / "bd-state.json").write_text("[]")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("BD_STUB_STATE", str(tmp_path / "bd-state.json"))
    monkeypatch.delenv("BD_STUB_BROKEN", raising=False)
    return bin_dir / "bd"


def test_beads_jsonl_ok_without_bd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # git, and no bd
    repo = create_demo_repo(tmp_path / "demo")
    rows = doctor.check_beads(repo)
    assert _row(rows, "bd") == doctor.ok("bd", "not on PATH: orch-tui reads and writes the JSONL itself")
    assert _row(rows, "beads") == doctor.ok("beads", "Beads JSONL file .beads/issues.jsonl: 12 task(s)")


def test_beads_missing_tracker_and_dolt_without_bd_fail(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    missing = _row(doctor.check_beads(repo), "beads")
    assert missing.status is Status.FAIL and "no Beads tracker" in missing.detail and "bd init" in missing.fix
    (repo / ".beads" / "embeddeddolt").mkdir(parents=True)
    dolt = _row(doctor.check_beads(repo), "beads")
    assert dolt.status is Status.FAIL and "Dolt database" in dolt.detail and "put bd on PATH" in dolt.fix


def test_bd_version_ok_and_broken(repo: Path, bd_on_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / ".beads" / "embeddeddolt").mkdir(parents=True)
    rows = doctor.check_beads(repo)
    assert _row(rows, "bd") == doctor.ok("bd", f"bd 1.0.2 at {bd_on_path}")
    assert _row(rows, "beads").status is Status.OK and "bd" in _row(rows, "beads").detail
    monkeypatch.setenv("BD_STUB_BROKEN", "1")
    rows = doctor.check_beads(repo)
    assert _row(rows, "bd").status is Status.WARN and "does not answer" in _row(rows, "bd").detail
    assert _row(rows, "beads").status is Status.FAIL  # Dolt, and bd does not answer


def test_beads_problems_warn(repo: Path) -> None:
    (repo / ".beads").mkdir()
    (repo / ".beads" / "issues.jsonl").write_text('{"id": "a-1", "title": "ok"}\n{not json\n')
    row = _row(doctor.check_beads(repo), "beads")
    assert row.status is Status.WARN and "1 problem(s)" in row.detail and "issues.jsonl:2" in row.detail


# ------------------------------------------------------------------ the agent

async def test_scripted_agent_is_ok_and_a_missing_opencode_fails() -> None:
    assert [row.status for row in await doctor.check_agent(Config(agent="scripted"))] == [Status.OK]
    [missing] = await doctor.check_agent(Config(opencode_binary="no-such-opencode"))
    assert missing.status is Status.FAIL and "not on PATH" in missing.detail and "orch-tui demo" in missing.fix
    [command] = await doctor.check_agent(Config(agent="command", agent_command=("no-such-agent", "{prompt_file}")))
    assert command.status is Status.FAIL


async def test_a_model_that_is_not_provider_slash_model_fails(tmp_path: Path) -> None:
    fake = _script(tmp_path / "bin", "opencode", 'echo 1.0.0')
    rows = await doctor.check_agent(Config(opencode_binary=str(fake), opencode_model="sonnet"),
                                    start_server=False)
    assert _row(rows, "agent").status is Status.OK and "1.0.0" in _row(rows, "agent").detail
    assert _row(rows, "model").status is Status.FAIL and "provider/model" in _row(rows, "model").fix


async def test_opencode_serve_that_does_not_start_fails_in_bounded_time(tmp_path: Path) -> None:
    fake = _script(tmp_path / "bin", "opencode",
                   'if [ "$1" = "--version" ]; then echo 1.0.0; else echo "no provider configured" >&2; exit 3; fi')
    rows = await doctor.check_agent(Config(opencode_binary=str(fake), opencode_model="fake/scripted"),
                                    serve_timeout=5)
    serve = _row(rows, "opencode serve")
    assert serve.status is Status.FAIL and "did not start" in serve.detail


@pytest.mark.slow
@pytest.mark.opencode
async def test_the_real_opencode_binary_version_model_and_serve(tmp_path: Path) -> None:
    from tests.e2e.test_opencode_e2e import isolated_env

    with FakeModelServer() as model:
        env = isolated_env(tmp_path / "home", model.opencode_config())
        config = Config(opencode_binary=str(opencode_binary()), opencode_model="fake/scripted")
        rows = await doctor.check_agent(config, env=env)
    assert [(row.name, row.status) for row in rows] == [
        ("agent", Status.OK), ("model", Status.OK), ("opencode serve", Status.OK)]
    assert "1.18" in _row(rows, "agent").detail
    assert _row(rows, "model").detail == "scripted from provider fake"


# ------------------------------------------------------------------ Agent Mail

async def test_agent_mail_not_answering_warns_and_local_is_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_MAIL_TOKEN", "s3cret-token-value")
    url = f"http://127.0.0.1:{free_port()}/mcp/"
    rows = await doctor.check_agent_mail(Config(agent_mail_url=url))
    assert _row(rows, "agent mail").status is Status.WARN
    assert "local reservations" in _row(rows, "agent mail").detail
    assert _row(rows, "agent mail token").detail == "set in $AGENT_MAIL_TOKEN"
    assert "s3cret" not in json.dumps([row.to_json() for row in rows])
    sequential = await doctor.check_agent_mail(Config(agent_mail_url=url, reservations="agent-mail"))
    assert "one at a time" in _row(sequential, "agent mail").detail
    assert await doctor.check_agent_mail(Config(reservations="local")) == [
        doctor.ok("agent mail", "not used (reservations = local)")]


@pytest.mark.slow
@pytest.mark.agent_mail
async def test_agent_mail_reachable_names_its_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent_mail_python()
    monkeypatch.delenv("AGENT_MAIL_TOKEN", raising=False)
    with running_agent_mail(tmp_path / "mail") as server:
        rows = await doctor.check_agent_mail(Config(agent_mail_url=server.url))
    assert _row(rows, "agent mail") == doctor.ok("agent mail", f"pypi build at {server.base_url}")
    assert "not set" in _row(rows, "agent mail token").detail


# ------------------------------------------------------------------ skills and config

def test_skills_missing_current_and_edited(repo: Path) -> None:
    missing = doctor.check_skills(repo)
    assert missing.status is Status.WARN and missing.fix == "orch-tui init"
    install(repo)
    assert doctor.check_skills(repo) == doctor.ok("skills", "installed and current")
    installed = json.loads((repo / ".opencode" / "orch-tui.manifest.json").read_text())["files"]
    first = repo / sorted(installed)[0]
    first.write_text(first.read_text() + "\nedited by hand\n")
    stale = doctor.check_skills(repo)
    assert stale.status is Status.WARN and "out of date" in stale.detail


def test_config_ok_and_broken(repo: Path) -> None:
    row, config = doctor.check_config(repo)
    assert row == doctor.ok("config", "defaults (no config file)") and config == Config()
    (repo / ".orch-tui.toml").write_text('batch_size = 4\nreservations = "sometimes"\n')
    row, config = doctor.check_config(repo)
    assert row.status is Status.FAIL and ".orch-tui.toml:2" in row.detail
    assert "reservations must be one of auto, agent-mail, local" in row.detail
    assert config == Config()  # the other rows go on with the defaults


# ------------------------------------------------------------------ the command

def _doctor(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    url = f"http://127.0.0.1:{free_port()}/mcp/"
    return subprocess.run([*ORCH, "doctor", "--repo", str(repo), "--agent-mail", url, *args],
                          capture_output=True, text=True, timeout=120)


def test_doctor_command_exit_codes_table_and_json(tmp_path: Path) -> None:
    demo = create_demo_repo(tmp_path / "demo")
    warned = _doctor(demo)  # scripted agents (the demo's config); no Agent Mail, no skills installed: warnings only
    assert warned.returncode == 1, warned.stdout + warned.stderr
    assert "WARN  agent mail" in warned.stdout and "fix: orch-tui init" in warned.stdout
    assert "0 failure(s)" in warned.stdout

    install(demo)
    (demo / ".orch-tui.toml").write_text('agent = "scripted"\nreservations = "local"\n')
    git(demo, "add", "-A")
    git(demo, "commit", "-q", "-m", "init")
    clean = _doctor(demo, "--json")
    report = json.loads(clean.stdout)
    assert clean.returncode == 0 and report["exit_code"] == 0, clean.stdout
    assert {row["status"] for row in report["checks"]} == {"ok"}
    assert {row["name"] for row in report["checks"]} >= {
        "config", "git", "git identity", "repository", "branch", "checkout", "worktree pool", "disk",
        "bd", "beads", "agent", "agent mail", "skills"}

    empty = make_repo(tmp_path / "no-tracker")
    failed = _doctor(empty, "--json", "--agent", "scripted")
    assert failed.returncode == 2
    assert [row["name"] for row in json.loads(failed.stdout)["checks"] if row["status"] == "fail"] == ["beads"]
