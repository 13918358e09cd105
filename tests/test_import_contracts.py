"""The layers hold: the headless core never imports Textual or Rich, widgets never import the
app. Read from the source with `ast`, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CONTRACTS = [
    ("orchestration", ("textual", "rich"), "the headless core drives front ends through events only"),
    ("widgets", ("orch_tui.app",), "widgets post messages; the app wires them"),
]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, relative ones resolved to orch_tui names."""
    package = ["orch_tui", *path.relative_to(ROOT).parent.parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
    return found


@pytest.mark.parametrize("folder, forbidden, why", CONTRACTS, ids=[c[0] for c in CONTRACTS])
def test_layer_contract(folder: str, forbidden: tuple[str, ...], why: str) -> None:
    breaches = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                for path in sorted((ROOT / folder).rglob("*.py"))
                for line, module in imported_modules(path)
                if any(module == name or module.startswith(name + ".") for name in forbidden)]
    assert not breaches, f"{folder}/ must not import {', '.join(forbidden)} ({why}):\n" + "\n".join(breaches)


def test_the_contract_reader_sees_relative_imports() -> None:
    modules = [module for _, module in imported_modules(ROOT / "widgets" / "lane.py")]
    assert "orch_tui.widgets.diff_view" in modules and "orch_tui.orchestration.commands" in modules
