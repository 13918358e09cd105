"""The whole diff of a lane, one section a file: a header (path, lines added and removed)
and the file's hunks, syntax highlighted. Binary files and huge ones are summarised.

Parsing (`split_diff`) is plain code; the widget draws each file as one Static, the text
cleaned first (agent output may hold escapes) and highlighted by Rich's diff lexer, which
never interprets markup."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from orch_tui.widgets.safe_text import clean, one_line

HUGE_LINES = 1500
"""A file's diff longer than this shows its first SHOWN_OF_HUGE lines and a summary."""
SHOWN_OF_HUGE = 200


@dataclass
class FileDiff:
    path: str
    lines: list[str] = field(default_factory=list)
    """The hunks (from the first `@@`), or the notes git wrote for a file without hunks."""
    status: str = "modified"
    """modified, new, deleted or renamed."""
    binary: bool = False

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.startswith("+"))

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.startswith("-"))


def _path_of(header: str) -> str:
    """`diff --git a/x b/x` -> x (the b/ side; quoted names kept as git wrote them)."""
    rest = header[len("diff --git "):]
    marker = rest.rfind(" b/")
    return rest[marker + 3:] if marker >= 0 else rest


def split_diff(diff: str) -> list[FileDiff]:
    files: list[FileDiff] = []
    current: FileDiff | None = None
    in_hunks = False
    for line in diff.split("\n"):
        if line.startswith("diff --git "):
            current, in_hunks = FileDiff(_path_of(line)), False
            files.append(current)
            continue
        if current is None:
            if line.strip():  # text before any file (a truncation note)
                current = FileDiff("(notes)", [line])
                files.append(current)
            continue
        if in_hunks or line.startswith("@@"):
            in_hunks = True
            current.lines.append(line)
        elif line.startswith("new file"):
            current.status = "new"
        elif line.startswith("deleted file"):
            current.status = "deleted"
        elif line.startswith(("rename from", "similarity")):
            current.status = "renamed"
        elif line.startswith(("Binary file", "Binary files", "GIT binary patch")):
            current.binary = True
            current.lines.append(line)
        elif line.startswith("[") and line.endswith("]"):  # the engine's truncation notes
            current.lines.append(line)
    for item in files:
        while item.lines and item.lines[-1] == "":
            item.lines.pop()
    return files


def compact_diff(diff: str) -> str:
    """For the lane panels: each file's name (and whether new, deleted...) then its hunks;
    no `diff --git`, `index`, `---` or `+++` lines."""
    out: list[str] = []
    for item in split_diff(diff):
        notes = [note for note in (item.status, "binary" if item.binary else "") if note not in ("", "modified")]
        note = f" ({', '.join(notes)})" if notes else ""
        out.append(f"▸ {item.path}{note}")
        out.extend(item.lines)
    return "\n".join(out)


class FileDiffs(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    FileDiffs { height: 1fr; }
    FileDiffs .file-head { background: $boost; text-style: bold; padding: 0 1; margin-top: 1; }
    FileDiffs .file-body { padding: 0 1; }
    """

    def show_diff(self, diff: str, truncated: bool = False) -> None:
        self.remove_children()
        files = split_diff(diff)
        if not files:
            self.mount(Static(Text("no changes yet", style="dim italic")))
            return
        widgets: list[Static] = []
        for item in files:
            widgets.append(Static(self._head(item), classes="file-head"))
            widgets.append(Static(self._body(item), classes="file-body"))
        if truncated:
            widgets.append(Static(Text("the engine cut this diff (it is larger than it keeps); the whole "
                                       "diff is in the lane's worktree (git diff)", style="italic yellow")))
        self.mount(*widgets)

    @staticmethod
    def _head(item: FileDiff) -> Text:
        head = Text()
        head.append(one_line(item.path, 200))
        if item.status != "modified":
            head.append(f"  {item.status}", "yellow")
        if item.binary:
            head.append("  binary", "yellow")
        else:
            head.append(f"  +{item.added}", "green")
            head.append(f" -{item.removed}", "red")
        return head

    @staticmethod
    def _body(item: FileDiff) -> Syntax | Text:
        if item.binary:
            return Text(clean("\n".join(item.lines)) or "binary file changed", style="yellow")
        lines = item.lines
        note = ""
        if len(lines) > HUGE_LINES:
            note = (f"\n… a huge diff: {len(lines)} lines (+{item.added} -{item.removed}); the first "
                    f"{SHOWN_OF_HUGE} are shown, the rest is in the lane's worktree (git diff)")
            lines = lines[:SHOWN_OF_HUGE]
        code = clean("\n".join(lines)) + note
        return Syntax(code, "diff", theme="ansi_dark", background_color="default", word_wrap=False)
