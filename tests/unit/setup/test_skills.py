"""The shipped OpenCode files: well-formed by OpenCode's rules, and loaded by real OpenCode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orch_tui.app.cli import main
from orch_tui.skills import shipped_files
from tests.support.helpers import make_repo, opencode_binary
from tests.support.opencode_server import OpencodeServer, opencode_home  # noqa: F401 (fixture)

SKILL_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def frontmatter(text: str) -> dict[str, str]:
    """The `key: value` lines between the leading `---` fences (all our files use only these)."""
    assert text.startswith("---\n"), "a shipped file must start with YAML frontmatter"
    block = text[4:text.index("\n---\n", 4)]
    fields = {}
    for line in block.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def shipped(kind: str) -> dict[str, str]:
    prefix = f".opencode/{kind}/"
    return {path: text for path, text in shipped_files().items() if path.startswith(prefix)}


def expected_descriptions(kind: str) -> dict[str, str]:
    """name -> description as we wrote them, for commands, skills or agents."""
    found = {}
    for path, text in shipped(kind).items():
        name = Path(path).parent.name if kind == "skills" else Path(path).stem
        found[name] = frontmatter(text)["description"]
    return found


def test_workflow_commands_name_their_agent_arguments_and_subtask_flag() -> None:
    commands = shipped("command")
    names = {Path(path).stem for path in commands}
    assert {"orch-plan", "orch-batch", "orch-status", "orch-merge"} <= names
    for path, text in commands.items():
        fields = frontmatter(text)
        assert fields.get("description"), path
        assert fields.get("agent"), f"{path} names no agent"
        assert fields.get("subtask") in ("true", "false"), f"{path} says nothing about subtask"
        assert "$ARGUMENTS" in text or "$1" in text, f"{path} names no arguments"


def test_skills_follow_opencode_naming_rules() -> None:
    skills = shipped("skills")
    assert {Path(path).parent.name for path in skills} == {
        "orch-planning", "orch-batching", "orch-coding", "orch-merging"}
    for path, text in skills.items():
        fields = frontmatter(text)
        assert Path(path).name == "SKILL.md"
        assert fields["name"] == Path(path).parent.name, "the name must match the folder"
        assert SKILL_NAME.match(fields["name"]) and len(fields["name"]) <= 64
        assert 0 < len(fields["description"]) <= 1024


def test_agents_that_opencode_run_must_find_are_primary() -> None:
    agents = {Path(path).stem: frontmatter(text) for path, text in shipped("agents").items()}
    assert set(agents) == {"orch-coder", "orch-merger"}
    assert all(fields["mode"] == "primary" for fields in agents.values())


def test_commands_point_at_agents_and_skills_that_exist() -> None:
    agents = set(expected_descriptions("agents")) | {"sisyphus"}  # sisyphus: oh-my-opencode
    skills = set(expected_descriptions("skills"))
    for path, text in shipped("command").items():
        assert frontmatter(text)["agent"] in agents, path
        for skill in re.findall(r"`(orch-[a-z-]+)` skill", text):
            assert skill in skills, f"{path} names unknown skill {skill}"


@pytest.mark.slow
@pytest.mark.opencode
def test_real_opencode_loads_every_command_skill_and_agent_we_ship(
        tmp_path: Path, opencode_home: Path) -> None:  # noqa: F811
    binary = opencode_binary()
    repo = make_repo(tmp_path / "repo")
    assert main(["init", "--repo", str(repo)]) == 0
    with OpencodeServer.start(binary, repo, opencode_home) as server:
        commands = {item["name"]: item for item in server.get("/command", repo)}
        skills = {item["name"]: item for item in server.get("/skill", repo)}
        agents = {item["name"]: item for item in server.get("/agent", repo)}

    for name, description in expected_descriptions("command").items():
        assert name in commands, f"OpenCode did not load /{name}"
        assert commands[name]["description"] == description
        assert commands[name]["source"] == "command"
        assert commands[name].get("agent") == frontmatter(
            shipped_files()[f".opencode/command/{name}.md"])["agent"]
    assert commands["orch-task"]["subtask"] is True
    assert commands["orch-plan"]["subtask"] is False
    assert "$1" in commands["orch-merge"]["hints"]

    for name, description in expected_descriptions("skills").items():
        assert name in skills, f"OpenCode did not load skill {name}"
        assert skills[name]["description"] == description
        assert skills[name]["location"] == str(repo / ".opencode" / "skills" / name / "SKILL.md")
        assert commands[name]["source"] == "skill", "each skill is also a slash command"

    for name, description in expected_descriptions("agents").items():
        assert name in agents, f"OpenCode did not load agent {name}"
        assert agents[name]["description"] == description
        assert agents[name]["mode"] == "primary", "opencode run --agent needs a primary agent"
