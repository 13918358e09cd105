from __future__ import annotations

import subprocess
import sys

from orch_tui.app.cli import main


def test_version_names_the_product(capsys) -> None:
    try:
        main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert capsys.readouterr().out.startswith("orch-tui ")


def test_help_lists_every_command() -> None:
    result = subprocess.run([sys.executable, "-m", "orch_tui.app", "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("demo", "plan", "run", "status", "init", "import-openspec", "doctor", "pool"):
        assert command in result.stdout
    assert "exit codes" in result.stdout
