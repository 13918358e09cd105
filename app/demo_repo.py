"""The demo: a throwaway repository with a realistic Beads graph and scripted agents.

A small bookshop web service with a dozen tasks that declare their files, with dependencies
and two tracks. The first batch holds two tasks that both also edit `CHANGELOG.md`, which
neither declared: the dashboard flags the edit outside the reservation, and the second of
the two merges conflicts, so a new user sees approve -> lanes -> merges -> a conflict to
resolve within a minute, whether Agent Mail runs or not.

Every lane also gets the demo's `.env` copied in (lane_copy) and runs a short lane check
(tests/check_lane.py) when its agent is done: it passes in three lanes and fails in the
Orders endpoint lane, whose handler still raises NotImplementedError, so the merge of that
lane waits for a person (merge anyway, retry the agent, or drop).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from orch_tui.orchestration.infra.git_exec import run_git

STAMP = "2026-11-01T09:00:00Z"

SOURCE_FILES = {
    "README.md": "# bookshop\n\nA small web service for a bookshop.\n",
    "CHANGELOG.md": "# Changelog\n\n## Unreleased\n",
    "bookshop/__init__.py": "",
    "bookshop/catalog.py": "BOOKS = {}\n\n\ndef find(isbn):\n    return BOOKS.get(isbn)\n",
    "bookshop/cart.py": "class Cart:\n    def __init__(self):\n        self.items = []\n",
    "bookshop/api/__init__.py": "",
    "bookshop/api/routes.py": "ROUTES = []\n",
    "docs/api.md": "# API\n",
    "tests/test_catalog.py": "def test_placeholder():\n    assert True\n",
    ".gitignore": ".venv/\n__pycache__/\n.env\n",
    "tests/check_lane.py": (
        '"""The lane check: every module parses and no handler is left unfinished."""\n'
        "import ast\nimport pathlib\nimport sys\n\n"
        "problems = []\n"
        "modules = sorted(pathlib.Path('bookshop').rglob('*.py'))\n"
        "for path in modules:\n"
        "    tree = ast.parse(path.read_text(), str(path))\n"
        "    for node in ast.walk(tree):\n"
        "        if isinstance(node, ast.Raise) and 'NotImplementedError' in ast.unparse(node):\n"
        "            problems.append(f'{path}:{node.lineno}: still raises NotImplementedError')\n"
        "print('\\n'.join(problems) or f'{len(modules)} modules checked: all finished')\n"
        "sys.exit(1 if problems else 0)\n"),
}
LOCAL_ENV = "BOOKSHOP_DB=sqlite:///tmp/bookshop-demo.db\n"
"""The demo's `.env`: git-ignored in the main checkout, copied into each lane (lane_copy)."""


def demo_config() -> str:
    """`.orch-tui.toml` of the demo: scripted agents, .env copied, the lane check."""
    check = json.dumps([sys.executable, "tests/check_lane.py"])
    return (f'agent = "scripted"\nbatch_size = 4\nlane_copy = [".env"]\n'
            f"lane_check_command = {check}\n")


def _task(task_id: str, title: str, files: list[str], *, priority: int = 2, depends: list[str] | None = None,
          seconds: float = 6.0, changelog: bool = False, issue_type: str = "task",
          parent: str | None = None, unfinished: bool = False) -> dict[str, Any]:
    description = f"{title}.\n\nFiles: {', '.join(files)}\n" if files else f"{title}.\n"
    steps = _steps(task_id, title, files, unfinished=unfinished)
    if changelog:
        # First, not last: the live diff then shows the stray edit (and its alert) while the
        # agent still works. Both tasks append at the end of the file, so the second merge conflicts.
        steps.insert(0, {"append": "CHANGELOG.md", "content": f"{task_id}: {title}\n"})
    script: dict[str, Any] = {"seconds": seconds, "steps": steps}
    record: dict[str, Any] = {"id": task_id, "title": title, "description": description,
                              "status": "open", "priority": priority, "issue_type": issue_type,
                              "created_at": STAMP, "updated_at": STAMP}
    if issue_type != "epic":
        record["acceptance_criteria"] = "The change is covered by a test and documented."
        record["metadata"] = {"orch_script": script}
    dependencies = [{"issue_id": task_id, "depends_on_id": other, "type": "blocks", "created_at": STAMP}
                    for other in depends or ()]
    if parent:
        dependencies.append({"issue_id": task_id, "depends_on_id": parent, "type": "parent-child",
                             "created_at": STAMP})
    if dependencies:
        record["dependencies"] = dependencies
    return record


def _steps(task_id: str, title: str, files: list[str], *, unfinished: bool = False) -> list[dict[str, str]]:
    steps = []
    body = '    raise NotImplementedError("orders are not stored yet")\n' if unfinished else f'    return "{task_id}"\n'
    for pattern in files:
        if pattern.endswith("/**"):
            path = f"{pattern[:-3]}/{task_id.replace('-', '_')}.py"
            steps.append({"write": path, "content": f'"""{title}."""\n\n\ndef handler():\n{body}'})
        elif pattern.endswith(".md"):
            steps.append({"append": pattern, "content": f"\n## {title}\n\nSee {task_id}.\n"})
        else:
            steps.append({"append": pattern, "content": f"\n\n# {task_id}: {title}\n"})
    return steps


def demo_tasks() -> list[dict[str, Any]]:
    return [
        _task("shop-1", "Bookshop v1", [], priority=1, issue_type="epic"),
        _task("shop-2", "Search the catalog by title", ["bookshop/catalog.py"], priority=1,
              changelog=True, seconds=5, parent="shop-1"),
        _task("shop-3", "Cart totals with tax", ["bookshop/cart.py"], priority=1,
              changelog=True, seconds=8, parent="shop-1"),
        _task("shop-4", "Document the API", ["docs/api.md"], priority=2, seconds=4),
        _task("shop-5", "Orders endpoint", ["bookshop/api/orders/**"], priority=2, seconds=7,
              unfinished=True),
        _task("shop-6", "Catalog search endpoint", ["bookshop/api/routes.py"], priority=2,
              depends=["shop-2"], seconds=5),
        _task("shop-7", "Checkout flow", ["bookshop/checkout.py"], priority=2,
              depends=["shop-3", "shop-5"], seconds=6),
        _task("shop-8", "Catalog tests", ["tests/test_catalog.py"], priority=3,
              depends=["shop-2"], seconds=4),
        _task("shop-9", "Rate-limit the API", ["bookshop/api/limits.py"], priority=3, seconds=5),
        _task("shop-10", "Receipts by e-mail", ["bookshop/receipts.py"], priority=3,
              depends=["shop-7"], seconds=5),
        _task("shop-11", "Inventory sync job", ["bookshop/inventory.py"], priority=4, seconds=5),
        _task("shop-12", "Release notes for v1", ["docs/release.md"], priority=4,
              depends=["shop-6"], seconds=3),
    ]


def _git(repo: Path, *args: str) -> None:
    run_git(repo, *args)  # a failure is a GitFailed naming the command and git's words


def create_demo_repo(directory: Path | None = None) -> Path:
    """Create the demo repository (in a new temporary directory unless one is given)."""
    repo = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="orch-tui-demo-")) / "bookshop"
    if repo.exists() and any(repo.iterdir()):
        from orch_tui.orchestration.errors import BadInput

        raise BadInput(f"{repo} is not empty", path=repo, fix="give --dir a new or empty directory")
    repo.mkdir(parents=True, exist_ok=True)
    for name, text in {**SOURCE_FILES, ".orch-tui.toml": demo_config()}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    beads = repo / ".beads"
    beads.mkdir()
    (beads / "issues.jsonl").write_text("".join(json.dumps(task) + "\n" for task in demo_tasks()))
    _git(repo, "init", "-q", "-b", "main")
    identity = ["-c", "user.name=orch-tui demo", "-c", "user.email=demo@orch-tui.invalid"]
    _git(repo, "add", "-A")
    _git(repo, *identity, "commit", "-q", "-m", "Bookshop: starting point for the orch-tui demo")
    _git(repo, "config", "user.name", "orch-tui demo")
    _git(repo, "config", "user.email", "demo@orch-tui.invalid")
    (repo / ".env").write_text(LOCAL_ENV)  # never committed: ignored, copied into each lane
    return repo
