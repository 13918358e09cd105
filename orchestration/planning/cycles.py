"""Dependency cycles that keep work from ever becoming ready.

Edges are the ones readiness follows (`blocks`, `conditional-blocks`, empty, `parent-child`)
between unfinished issues: a cycle through a closed issue blocks nothing. Strongly connected
components come from an iterative Tarjan (no recursion, so a 20,000-long chain is fine);
each component is reported as one concrete cycle, starting at its smallest id and following
"depends on" edges, so a person can read it as a path: a -> b -> c -> a.
"""

from __future__ import annotations

from collections import deque

from orch_tui.orchestration.model import TaskGraph
from orch_tui.orchestration.planning.readiness import readiness_of


def strongly_connected(edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's components of size > 1, or of one node with an edge to itself."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in edges:
        if root in index_of:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index_of[root] = low[root] = len(index_of)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index_of:
                    index_of[successor] = low[successor] = len(index_of)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges.get(successor, ()))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index_of[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                component = _pop_component(stack, on_stack, node)
                if len(component) > 1 or node in edges.get(node, ()):
                    found.append(component)
    return found


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component


def _cycle_through(start: str, members: set[str], edges: dict[str, list[str]]) -> list[str]:
    """Shortest path start -> ... -> start inside one component (breadth-first)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in edges.get(node, ()):
            if successor not in members:
                continue
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return path[::-1]
            if successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    return [start]  # unreachable for a real component; kept so callers always get ids


def find_cycles(graph: TaskGraph) -> list[list[str]]:
    """One cycle per strongly connected component, each starting at its smallest id."""
    return cycles_in(readiness_of(graph).depends_on)


def cycles_in(edges: dict[str, list[str]]) -> list[list[str]]:
    """`find_cycles` over edges already collected (`Readiness.depends_on`)."""
    cycles = [_cycle_through(min(component), set(component), edges)
              for component in strongly_connected(edges)]
    cycles.sort()
    return cycles
