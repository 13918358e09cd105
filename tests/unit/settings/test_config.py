from __future__ import annotations

from pathlib import Path

import pytest

from orch_tui.orchestration.settings.config import Config, load_config
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


def test_lane_environment_settings_are_read(tmp_path: Path) -> None:
    (tmp_path / ".orch-tui.toml").write_text(
        'lane_setup_command = ["uv", "sync"]\nlane_setup_when_changed = ["uv.lock"]\n'
        'lane_copy = [".env", "config/local.toml"]\nlane_ports = 4\nlane_port_base = 50000\n'
        'lane_check_command = ["uv", "run", "pytest", "-q"]\n')
    config = load_config(tmp_path)
    assert config.lane_setup_command == ("uv", "sync") and config.lane_setup_when_changed == ("uv.lock",)
    assert config.lane_copy == (".env", "config/local.toml")
    assert (config.lane_ports, config.lane_port_base) == (4, 50000)
    assert config.lane_check_command == ("uv", "run", "pytest", "-q")
    assert Config().lane_ports == 10


@pytest.mark.parametrize(("text", "expected"), [
    ('lane_setup_command = "uv sync"', "lane_setup_command must be a list of strings"),
    ('lane_copy = ["../secrets.env"]', "leaves the repository"),
    ('lane_copy = ["/etc/passwd"]', "is absolute"),
    ('lane_copy = [".git/config"]', "inside .git"),
    ("lane_ports = -1", "lane_ports must be a whole number from 0"),
    ("lane_port_base = 80", "lane_port_base must be a port number from 1024"),
    ("lane_port_base = 65530", "above 65535"),
    ('lane_setup_when_changed = ["uv.lock"]', "lane_setup_command is not"),
    ('lane_check_command = ["make", 3]', "lane_check_command must be a list of strings"),
])
def test_bad_lane_settings_name_file_line_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / ".orch-tui.toml"
    path.write_text(f'agent = "scripted"\n{text}\n')
    with pytest.raises(BadInput) as error:
        load_config(tmp_path)
    message = str(error.value)
    assert f"{path}:2:" in message and expected in message and "fix:" in message
