"""Builds a real engine for a repository from its configuration."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from orch_tui.orchestration.reservations.backend import ReservationBackend
    from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager

from orch_tui.orchestration.tracker.beads import open_store
from orch_tui.orchestration.settings.config import MAX_BATCH_SIZE, Config, check_agent_mail_url, check_batch_size, load_config
from orch_tui.orchestration.engine.core import Engine
from orch_tui.orchestration.engine.parts import EngineParts
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.events import Event, EventSink
from orch_tui.orchestration.engine.instance_lock import InstanceLock
from orch_tui.orchestration.engine.journal import Journal
from orch_tui.orchestration.lanes.environment import LaneEnvironments
from orch_tui.orchestration.merging.queue import MergeQueue
from orch_tui.orchestration.engine.preflight import check_run_places
from orch_tui.orchestration.infra.repo_paths import git_common_dir
from orch_tui.orchestration.lanes.worktrees import WorktreePool, main_worktree


def effective_config(repo: Path, *, agent: str | None = None, agent_mail_url: str | None = None,
                     batch_size: int | None = None) -> Config:
    """The repository's configuration with command-line overrides applied."""
    config = load_config(repo)
    if agent:
        config = replace(config, agent=agent)
    if agent_mail_url:
        config = replace(config, agent_mail_url=check_agent_mail_url(agent_mail_url))
    if batch_size is not None:
        config = replace(config, batch_size=check_batch_size(batch_size))
    return config


def resolve_repo(path: Path) -> Path:
    """The main worktree of the repository containing `path`, or BadInput."""
    if not path.exists():
        raise BadInput(f"{path} does not exist", path=path, fix="pass --repo with an existing directory")
    if not path.is_dir():
        raise BadInput(f"{path} is not a directory", path=path,
                       fix="pass --repo with the directory of a git repository")
    git_common_dir(path)  # raises a clear BadInput outside a repository
    return main_worktree(path)


class _Relay:
    """Forwards events from parts built before the engine exists to the engine."""

    def __init__(self) -> None:
        self.sink: EventSink = lambda event: None

    def __call__(self, event: Event) -> None:
        self.sink(event)


def build_engine(repo: Path, config: Config, *, runner_env: Mapping[str, str] | None = None) -> Engine:
    from orch_tui.orchestration.agents.factory import make_runner
    from orch_tui.orchestration.lanes.live_diff import LaneDiffWatcher

    relay = _Relay()
    store = open_store(repo)
    pool = WorktreePool.from_config(repo, config)  # worktree_dir is relative to the repository
    check_run_places(beads_dir=repo / ".beads" if store.kind == "jsonl" else None,
                     state_dir=git_common_dir(repo) / "orch-tui", pool_root=pool.root)
    parts = EngineParts(
        repo=repo,
        config=config,
        store=store,
        pool=pool,
        merges=MergeQueue(repo, config),
        runner=make_runner(config, env=runner_env),
        journal=Journal(repo),
        reservations=make_reservations(repo, config, relay),
        watcher_factory=LaneDiffWatcher,
        lock=InstanceLock(repo),
        environments=LaneEnvironments(repo, config, runner_env),
    )
    engine = Engine(parts)
    relay.sink = engine.forward
    return engine


def make_reservations(repo: Path, config: Config, on_event: EventSink | None = None,
                      *, timeout: float = 5.0) -> "ReservationBackend":
    """The backend `config.reservations` names: Agent Mail, the local ledger, or `auto`."""
    from orch_tui.orchestration.reservations.local_ledger import LocalLedger, LocalReservations
    from orch_tui.orchestration.reservations.backend import AutoReservations

    local = LocalReservations(LocalLedger.for_repo(repo), str(repo), MAX_BATCH_SIZE,
                              config.reservation_ttl_seconds, on_event, agent_prefix=_lane_prefix(repo))
    if config.reservations == "local":
        return local
    agent_mail = make_agent_mail_reservations(repo, config, on_event, timeout=timeout)
    if config.reservations == "agent-mail":
        return agent_mail
    return AutoReservations(agent_mail, local, on_event)


def make_agent_mail_reservations(repo: Path, config: Config, on_event: EventSink | None = None,
                                 *, timeout: float = 5.0) -> "ReservationManager":
    from orch_tui.orchestration.reservations.agent_mail import AgentMailClient
    from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager

    token = os.environ.get(config.agent_mail_token_env) or None
    client = AgentMailClient(config.agent_mail_url, token=token, timeout=timeout)
    return ReservationManager(client, str(repo), MAX_BATCH_SIZE, config.reservation_ttl_seconds,
                              on_event, agent_prefix=_lane_prefix(repo))


def _lane_prefix(repo: Path) -> str:
    # Agent names are global on the PyPI server: a per-repository prefix keeps two
    # repositories sharing one server from retiring each other's lane agents.
    return "lane-" + hashlib.sha1(str(repo).encode()).hexdigest()[:6]
