"""The Beads graph as a tree: epics hold their children, each task shows a status glyph,
ready tasks are marked and blocked ones say by what. Filter by status and by text.

Children are added when their parent is first expanded, so a graph of 10,000 issues draws
its first frame without building 10,000 nodes.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Static, Tree
from textual.widgets.tree import TreeNode

from orch_tui.orchestration.model import TaskGraph

from orch_tui.widgets.graph_index import GraphIndex
from orch_tui.widgets.safe_text import one_line

STATUS_GLYPHS = {
    "open": "○", "in_progress": "◐", "blocked": "⊘", "deferred": "◇", "closed": "✓",
    "tombstone": "✗", "pinned": "◆", "hooked": "◎",
}
STATUS_FILTERS = ("all", "ready", "open", "in_progress", "blocked", "closed")
MAX_FILTER_MATCHES = 500
"""Matches shown for a filter; the rest are counted, so typing never builds a huge tree."""
CHUNK = 200
"""Nodes added at a time under one parent; a "more" node adds the next ones when chosen."""
MORE = "\0more"


def task_label(index: GraphIndex, task_id: str, highlight: set[str] | None = None) -> Text:
    task = index.task(task_id)
    label = Text(no_wrap=True, overflow="ellipsis")
    blocked_by = index.blockers.get(task_id)
    if task_id in index.ready and task.issue_type != "epic":
        label.append("● ", "bold green")
    elif blocked_by:
        label.append("⊘ ", "bold red")
    else:
        label.append(STATUS_GLYPHS.get(task.status, "·") + " ", "dim" if task.is_done else "")
    label.append(task.id, "bold" if highlight and task_id in highlight else "cyan")
    label.append(f" P{task.priority} ", "dim")
    label.append(one_line(task.title, 120), "dim strike" if task.is_done else "")
    if blocked_by:
        shown = ", ".join(blocked_by[:3]) + (f" +{len(blocked_by) - 3}" if len(blocked_by) > 3 else "")
        label.append(f"  blocked by {shown}", "red")
    return label


def _matches(index: GraphIndex, task_id: str, status: str, words: list[str]) -> bool:
    task = index.task(task_id)
    if status == "ready" and task_id not in index.ready:
        return False
    if status == "blocked" and not (task_id in index.blockers or task.status == "blocked"):
        return False
    if status not in ("all", "ready", "blocked") and task.status != status:
        return False
    haystack = f"{task.id} {task.title}".lower()
    return all(word in haystack for word in words)


class TaskGraphView(Vertical):
    """Filter line plus the tree. Posts `TaskSelected` when the cursor moves to a task."""

    DEFAULT_CSS = """
    TaskGraphView { height: 1fr; }
    TaskGraphView #graph-filter { height: 1; border: none; padding: 0 1; }
    TaskGraphView #graph-summary { height: 1; padding: 0 1; color: $text-muted; }
    TaskGraphView Tree { height: 1fr; }
    """
    status_filter: reactive[str] = reactive("all")

    class TaskSelected(Message):
        def __init__(self, task_id: str | None) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index: GraphIndex | None = None
        self._text = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter by id or title   f: status", id="graph-filter")
        yield Static("", id="graph-summary")
        tree: Tree[str] = Tree("tasks", id="graph-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree

    def show_graph(self, graph: TaskGraph | None, now: datetime | None = None) -> None:
        """Draw `graph`; the same graph object again is a no-op. A new graph (the engine read
        the tracker again) keeps the person's place: the selected task and expanded epics."""
        if now is None and graph is not None and self.index is not None and self.index.graph is graph:
            return
        place = self._place() if self.index is not None else None
        self.index = GraphIndex.build(graph, now) if graph is not None else None
        self._rebuild(place)

    @property
    def graph_tree(self) -> Tree[str]:
        return self.query_one("#graph-tree", Tree)

    def _rebuild(self, place: tuple[str | None, set[str]] | None = None) -> None:
        tree = self.graph_tree
        tree.clear()
        index = self.index
        if index is None or not index.graph.tasks:
            self._summary("no tasks")
            return
        words = self._text.lower().split()
        if self.status_filter == "all" and not words:
            self._add_chunk(tree.root, None, 0)
            self._summary(f"{len(index.graph)} tasks · {len(index.ready)} ready · "
                          f"{len(index.blockers)} blocked")
        else:
            self._rebuild_filtered(index, words)
        target = self._restore(place) if place is not None else None
        if target is not None:
            tree.move_cursor(target)
        elif tree.root.children:
            tree.move_cursor(tree.root.children[0])

    def _place(self) -> tuple[str | None, set[str]]:
        """The selected task and the expanded nodes (only built nodes are walked)."""
        expanded: set[str] = set()
        stack = list(self.graph_tree.root.children)
        while stack:
            node = stack.pop()
            if node.is_expanded and node.data is not None:
                expanded.add(node.data)
                stack.extend(node.children)
        return self.selected_task_id(), expanded

    def _restore(self, place: tuple[str | None, set[str]]) -> TreeNode[str] | None:
        """Expand again what was expanded; the node of the selected task, if it is built."""
        selected, expanded = place
        found: TreeNode[str] | None = None
        stack = list(self.graph_tree.root.children)
        while stack:
            node = stack.pop()
            if node.data == selected:
                found = node
            if node.data in expanded and node.allow_expand:
                if not node.children:
                    self._add_chunk(node, node.data, 0)
                node.expand()
                stack.extend(node.children)
        if found is not None:
            _ = self.graph_tree.last_line  # lays out the new lines, so the node knows its line
        return found

    def _rebuild_filtered(self, index: GraphIndex, words: list[str]) -> None:
        matches = [tid for tid in index.graph.tasks if _matches(index, tid, self.status_filter, words)]
        shown = sorted(matches, key=lambda tid: (index.task(tid).priority, tid))[:MAX_FILTER_MATCHES]
        nodes: dict[str, TreeNode[str]] = {}
        wanted = set(shown)
        for task_id in shown:  # each match under its ancestors, so context stays visible
            chain = [task_id]
            while (parent := index.parent.get(chain[-1])) is not None:
                chain.append(parent)
            node = self.graph_tree.root
            for ancestor in reversed(chain):
                if ancestor not in nodes:
                    nodes[ancestor] = node.add(task_label(index, ancestor, wanted), data=ancestor,
                                               expand=True, allow_expand=ancestor != task_id)
                node = nodes[ancestor]
        more = f" (first {MAX_FILTER_MATCHES})" if len(matches) > MAX_FILTER_MATCHES else ""
        self._summary(f"{len(matches)} match{'es' if len(matches) != 1 else ''}{more} · "
                      f"status: {self.status_filter}")

    def _add(self, parent: TreeNode[str], task_id: str) -> None:
        assert self.index is not None
        has_children = bool(self.index.children.get(task_id))
        if has_children:
            parent.add(task_label(self.index, task_id), data=task_id, expand=False)
        else:
            parent.add_leaf(task_label(self.index, task_id), data=task_id)

    def _summary(self, text: str) -> None:
        self.query_one("#graph-summary", Static).update(Text(text))

    def _add_chunk(self, parent: TreeNode[str], parent_id: str | None, start: int) -> None:
        assert self.index is not None
        ids = self.index.children.get(parent_id, [])
        for task_id in ids[start:start + CHUNK]:
            self._add(parent, task_id)
        left = len(ids) - start - CHUNK
        if left > 0:
            more = Text(f"… {left} more: press enter (or filter with /)", "dim italic")
            parent.add_leaf(more, data=f"{MORE}{start + CHUNK}")

    @on(Tree.NodeExpanded, "#graph-tree")
    def _expand(self, event: Tree.NodeExpanded[str]) -> None:
        node = event.node
        if self.index is None or node.children or node.data is None:
            return
        self._add_chunk(node, node.data, 0)

    @on(Tree.NodeSelected, "#graph-tree")
    def _more(self, event: Tree.NodeSelected[str]) -> None:
        node = event.node
        if node.data is None or not node.data.startswith(MORE) or node.parent is None:
            return
        event.stop()
        parent = node.parent
        node.remove()
        self._add_chunk(parent, parent.data if parent is not self.graph_tree.root else None,
                        int(node.data.removeprefix(MORE)))

    @on(Tree.NodeHighlighted, "#graph-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        event.stop()
        data = event.node.data
        self.post_message(self.TaskSelected(None if data is None or data.startswith(MORE) else data))

    @on(Input.Changed, "#graph-filter")
    def _text_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._text = event.value
        self._rebuild()

    @on(Input.Submitted, "#graph-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.graph_tree.focus()

    def watch_status_filter(self) -> None:
        if self.is_mounted:
            self._rebuild()

    def action_focus_filter(self) -> None:
        self.query_one("#graph-filter", Input).focus()

    def action_cycle_status(self) -> None:
        position = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(position + 1) % len(STATUS_FILTERS)]

    def selected_task_id(self) -> str | None:
        node = self.graph_tree.cursor_node
        data = node.data if node is not None else None
        return None if data is None or data.startswith(MORE) else data
