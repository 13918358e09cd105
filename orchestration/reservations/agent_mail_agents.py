"""The lane agents as Agent Mail knows them: one registered agent a lane, its name as the
server gave it (the fork rewrites some), its registration token (upstream), and when it last
showed it is alive (upstream releases an inactive agent's reservations early)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from orch_tui.orchestration.reservations.agent_mail import AgentMailClient, AgentMailError

PROGRAM = "orch-tui"
MODEL = "orchestrator"


@dataclass
class _Agent:
    name: str
    registration_token: str | None = field(default=None, repr=False)
    last_active: float = 0.0


class LaneAgents:
    """Register the lanes' agents and speak as one of them."""

    def __init__(self, client: AgentMailClient, project_key: str,
                 requested_name: Callable[[int], str], activity_interval_seconds: float) -> None:
        self.client = client
        self.project_key = project_key
        self.requested_name = requested_name
        self.activity_interval_seconds = activity_interval_seconds
        self._agents: dict[int, _Agent] = {}

    def name(self, lane: int) -> str:
        """The lane's agent name as the server knows it (the requested name before start)."""
        agent = self._agents.get(lane)
        return agent.name if agent else self.requested_name(lane)

    def lanes_by_agent(self) -> dict[str, int]:
        return {agent.name: lane for lane, agent in self._agents.items()}

    async def register(self, lane: int, task_description: str) -> None:
        """Register (or re-register, which also shows the agent is active) the lane's agent."""
        known = self._agents.get(lane)
        arguments: dict[str, object] = {
            "project_key": self.project_key, "program": PROGRAM, "model": MODEL,
            "name": known.name if known else self.requested_name(lane),
            "task_description": task_description,
        }
        if known and known.registration_token and self._takes_token("register_agent"):
            arguments["registration_token"] = known.registration_token
        answer = await self.client.register_agent(arguments)
        token = answer.registration_token or (known.registration_token if known else None)
        self._agents[lane] = _Agent(answer.name, token, time.monotonic())

    async def keep_active(self, lane: int, task_description: str) -> None:
        """Re-register the lane's agent when it has been quiet for the activity interval."""
        agent = self._agents.get(lane)
        if agent and time.monotonic() - agent.last_active >= self.activity_interval_seconds:
            await self.register(lane, task_description)

    def arguments(self, lane: int, tool: str, extra: Mapping[str, object]) -> dict[str, object]:
        """The arguments of `tool` called as the lane's agent (with its token where taken)."""
        agent = self._agents.get(lane)
        if agent is None:
            raise AgentMailError(f"lane {lane} has no registered agent", tool=tool)
        full = {"project_key": self.project_key, "agent_name": agent.name, **extra}
        if agent.registration_token and self._takes_token(tool):
            full["registration_token"] = agent.registration_token
        return full

    def _takes_token(self, tool: str) -> bool:
        build = self.client.build
        return bool(build and build.takes_token(tool))
