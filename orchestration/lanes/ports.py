"""Port leases: each lane gets its own block of ports that are free when it is assigned.

Two dev servers in two lanes must not fight over one port. A lane leases `count` ports,
starting at `base + count * (lane - 1)` so a lane tends to get the same ports batch after
batch; a port another lane holds, or that something on this machine is listening on (a
bind test on 127.0.0.1), is skipped. Leases live in memory: a restarted orchestrator starts
with none held, and a lane's old lease is given back when the lane leases again.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.settings.lanes import HIGHEST_PORT


@dataclass(frozen=True)
class PortBlock:
    lane: int
    ports: tuple[int, ...]

    @property
    def first(self) -> int | None:
        return self.ports[0] if self.ports else None

    def env(self) -> dict[str, str]:
        """ORCH_PORT (the first port) and ORCH_PORTS (all, comma-separated); empty without ports."""
        if not self.ports:
            return {}
        return {"ORCH_PORT": str(self.ports[0]), "ORCH_PORTS": ",".join(map(str, self.ports))}

    def describe(self) -> str:
        """`:42000-42009`, or the ports one by one when some were skipped."""
        if not self.ports:
            return ""
        if self.ports[-1] - self.ports[0] == len(self.ports) - 1:
            return f":{self.ports[0]}" if len(self.ports) == 1 else f":{self.ports[0]}-{self.ports[-1]}"
        return ":" + ",".join(map(str, self.ports))


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on (or holds) `port` on `host`: we can bind it ourselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class PortLeases:
    """The ports each lane holds now. Thread-safe: lanes lease from worker threads."""

    def __init__(self, base: int, count: int) -> None:
        self.base = base
        self.count = count
        self._held: dict[int, tuple[int, ...]] = {}
        self._lock = threading.Lock()

    def lease(self, lane: int) -> PortBlock:
        """`count` free ports for `lane` (its previous lease, if any, is given back first)."""
        with self._lock:
            self._held.pop(lane, None)
            if self.count == 0:
                return PortBlock(lane, ())
            taken = {port for ports in self._held.values() for port in ports}
            found: list[int] = []
            port = self.base + self.count * (lane - 1)
            while len(found) < self.count and port <= HIGHEST_PORT:
                if port not in taken and port_is_free(port):
                    found.append(port)
                port += 1
            if len(found) < self.count:
                raise OrchError(f"lane {lane}: only {len(found)} of {self.count} ports are free from "
                                f"{self.base + self.count * (lane - 1)} up; lower lane_port_base or lane_ports")
            self._held[lane] = tuple(found)
            return PortBlock(lane, tuple(found))

    def release(self, lane: int) -> None:
        with self._lock:
            self._held.pop(lane, None)

    def held(self) -> dict[int, tuple[int, ...]]:
        with self._lock:
            return dict(self._held)
