from __future__ import annotations

from pathlib import Path

import pytest

from orch_tui.orchestration.config import Config, load_config
from orch_tui.orchestration.errors import BadInput


def test_defaults_without_any_file(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()
    assert Config().batch_size == 4


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n\n[tool.orch-tui]\nbatch_size = 3\n'
                                             'verify_command = ["make", "test"]\n')
    config = load_config(tmp_path)
    assert config.batch_size == 3
    assert config.verify_command == ("make", "test")


def test_dot_file_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.orch-tui]\nbatch_size = 3\n")
    (tmp_path / ".orch-tui.toml").write_text("batch_size = 5\n")
    assert load_config(tmp_path).batch_size == 5


@pytest.mark.parametrize("value", ["1", "7", '"four"', "true"])
def test_bad_batch_size_names_file_line_and_fix(tmp_path: Path, value: str) -> None:
    path = tmp_path / ".orch-tui.toml"
    path.write_text(f'agent = "scripted"\nbatch_size = {value}\n')
    with pytest.raises(BadInput) as error:
        load_config(tmp_path)
    message = str(error.value)
    assert f"{path}:2:" in message
    assert "2..6" in message or "2 to 6" in message
    assert "fix:" in message


def test_unknown_key_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / ".orch-tui.toml"
    path.write_text("batch_size = 3\nbatchsize = 4\n")
    with pytest.raises(BadInput, match=r":2: unknown setting 'batchsize'"):
        load_config(tmp_path)


def test_broken_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / ".orch-tui.toml"
    path.write_text("batch_size = 3\nagent = \n")
    with pytest.raises(BadInput, match=r"\.orch-tui\.toml:2: not valid TOML"):
        load_config(tmp_path)
