"""The files `orch-tui init` installs, shipped as package data, and where each one goes.

Layout of this package's data (mirrors the target repository):
    opencode/command/*.md            -> .opencode/command/*.md   (slash commands)
    opencode/skills/<name>/SKILL.md  -> .opencode/skills/<name>/SKILL.md
    opencode/agents/*.md             -> .opencode/agents/*.md
    WORKFLOW.md                      -> WORKFLOW.md
    oh-my-opencode.jsonc             -> merged into the oh-my-opencode configuration
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

OMO_FRAGMENT = "oh-my-opencode.jsonc"
_INSTALLED_TREES = {"opencode": ".opencode"}
_INSTALLED_FILES = ("WORKFLOW.md",)


def _walk(node: Traversable, prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for child in node.iterdir():
        target = f"{prefix}/{child.name}"
        if child.is_dir():
            found.update(_walk(child, target))
        elif child.name.endswith(".md"):
            found[target] = child.read_text(encoding="utf-8")
    return found


def shipped_files() -> dict[str, str]:
    """Every installed file: target path relative to the repository -> its text, sorted."""
    root = files(__name__)
    found: dict[str, str] = {}
    for source, target in _INSTALLED_TREES.items():
        found.update(_walk(root / source, target))
    for name in _INSTALLED_FILES:
        found[name] = (root / name).read_text(encoding="utf-8")
    return dict(sorted(found.items()))


def omo_fragment_text() -> str:
    """The oh-my-opencode entries (JSONC with comments) that init merges into the config."""
    return (files(__name__) / OMO_FRAGMENT).read_text(encoding="utf-8")
