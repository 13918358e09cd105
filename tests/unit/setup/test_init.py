"""`orch-tui init`: installs the files, merges oh-my-opencode config safely, is idempotent."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from orch_tui.app.cli import main
from orch_tui.orchestration.setup.installer import (LEGACY_OMO_CONFIGS, MANIFEST, OMO_4_CONFIG,
                                              PROMPT_BEGIN, content_hash, find_omo_config,
                                              install)
from orch_tui.orchestration.settings.jsonc import loads
from orch_tui.skills import shipped_files

LEGACY_JSONC = """{
  "$schema": "https://raw.githubusercontent.com/code-yeongyu/oh-my-opencode/master/assets/oh-my-opencode.schema.json",
  /* Agent overrides - customize models for specific tasks */
  "agents": {
    "oracle": {
      "model": "openai/gpt-5.2"  // GPT for strategic reasoning
    },
    "sisyphus": { "prompt_append": "Always answer in English." },
  },
  // Background tasks: keep it gentle on rate limits
  "background_task": { "defaultConcurrency": 2 },
}
"""

OMO_4_JSONC = """// migrated by oh-my-opencode 4.19 (backup kept)
{
  "categories": {
    // my own category
    "quick": { "model": "opencode/grok-code", "description": "fast edits" }
  },
  "disabled_agents": ["multimodal-looker"]
}
"""


def snapshot(repo: Path) -> dict[str, str]:
    return {str(path.relative_to(repo)): path.read_text() for path in sorted(repo.rglob("*"))
            if path.is_file() and ".git" not in path.relative_to(repo).parts}


def later(seconds: int) -> datetime:
    return datetime(2030, 1, 2, 3, 4, 5 + seconds)


def write(repo: Path, relative: str, text: str) -> Path:
    path = repo / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def backups(repo: Path) -> list[str]:
    return sorted(str(path.relative_to(repo)) for path in repo.rglob("*.orch-tui-backup-*"))


def test_installs_every_shipped_file_and_workflow(repo: Path) -> None:
    report = install(repo)
    for relative, text in shipped_files().items():
        assert (repo / relative).read_text() == text
    assert "Beads" in (repo / "WORKFLOW.md").read_text()
    assert "Agent Mail" in (repo / "WORKFLOW.md").read_text()
    assert (repo / MANIFEST).is_file()
    assert {change.path for change in report.changes} >= set(shipped_files())


def test_second_run_changes_nothing(repo: Path) -> None:
    install(repo, now=lambda: later(0))
    before = snapshot(repo)
    report = install(repo, now=lambda: later(1))
    assert not report.changed and not report.notes
    assert snapshot(repo) == before


def test_dry_run_reports_and_writes_nothing(repo: Path) -> None:
    write(repo, LEGACY_OMO_CONFIGS[0], LEGACY_JSONC)
    before = snapshot(repo)
    report = install(repo, dry_run=True)
    assert snapshot(repo) == before
    assert {change.path for change in report.changes} == set(shipped_files()) | {
        LEGACY_OMO_CONFIGS[0]}


def test_file_edited_since_install_is_backed_up_with_a_message(repo: Path) -> None:
    install(repo, now=lambda: later(0))
    edited = repo / ".opencode/command/orch-plan.md"
    edited.write_text(edited.read_text() + "\nMy own extra rule.\n")
    report = install(repo, now=lambda: later(1))
    backup = ".opencode/command/orch-plan.md.orch-tui-backup-20300102T030406"
    assert backups(repo) == [backup]
    assert "My own extra rule." in (repo / backup).read_text()
    assert edited.read_text() == shipped_files()[".opencode/command/orch-plan.md"]
    assert any(backup in note for note in report.notes)
    assert not install(repo, now=lambda: later(2)).changed


def test_file_still_as_installed_is_updated_without_a_backup(repo: Path) -> None:
    old = "---\ndescription: an older orch-tui version\nagent: sisyphus\nsubtask: false\n---\n$1\n"
    write(repo, ".opencode/command/orch-plan.md", old)
    install(repo)  # first run: the file was not ours, so it is backed up
    assert len(backups(repo)) == 1
    # Simulate an upgrade: the manifest says we installed `old`, and the file still is `old`.
    manifest = (repo / MANIFEST).read_text()
    shipped = shipped_files()[".opencode/command/orch-plan.md"]
    (repo / MANIFEST).write_text(manifest.replace(content_hash(shipped), content_hash(old)))
    write(repo, ".opencode/command/orch-plan.md", old)
    report = install(repo, now=lambda: later(3))
    assert [c.action for c in report.changes if c.path.endswith("orch-plan.md")] == ["update"]
    assert len(backups(repo)) == 1 and not report.notes


def test_workflow_md_the_user_already_had_is_kept_as_a_backup(repo: Path) -> None:
    write(repo, "WORKFLOW.md", "# Our team's own workflow\n")
    report = install(repo, now=lambda: later(0))
    assert (repo / "WORKFLOW.md.orch-tui-backup-20300102T030405").read_text() == \
        "# Our team's own workflow\n"
    assert any("WORKFLOW.md" in note for note in report.notes)


def test_merges_into_legacy_jsonc_keeping_comments_keys_and_a_backup(repo: Path) -> None:
    write(repo, ".opencode/oh-my-opencode.jsonc", LEGACY_JSONC)
    report = install(repo, now=lambda: later(0))
    assert report.config_path == ".opencode/oh-my-opencode.jsonc"
    text = (repo / ".opencode/oh-my-opencode.jsonc").read_text()
    for comment in ("/* Agent overrides - customize models for specific tasks */",
                    "// GPT for strategic reasoning", "// Background tasks"):
        assert comment in text
    config = loads(text)
    assert set(config) == {"$schema", "agents", "background_task", "categories"}
    assert config["agents"]["oracle"] == {"model": "openai/gpt-5.2"}
    assert config["background_task"] == {"defaultConcurrency": 2}
    assert set(config["categories"]) == {"orch-coder", "orch-merger"}
    assert config["categories"]["orch-coder"]["description"].startswith("orch-tui coder")
    prompt = config["agents"]["sisyphus"]["prompt_append"]
    assert prompt.startswith("Always answer in English.\n\n" + PROMPT_BEGIN)
    assert "/orch-batch" in prompt
    assert (repo / ".opencode/oh-my-opencode.jsonc.orch-tui-backup-20300102T030405"
            ).read_text() == LEGACY_JSONC
    before = snapshot(repo)
    assert not install(repo, now=lambda: later(1)).changed
    assert snapshot(repo) == before


def test_merges_into_the_4x_location_when_it_exists(repo: Path) -> None:
    write(repo, OMO_4_CONFIG, OMO_4_JSONC)
    write(repo, ".opencode/oh-my-opencode.json", '{"agents": {}}')  # pre-migration leftover
    report = install(repo, now=lambda: later(0))
    assert report.config_path == OMO_4_CONFIG
    assert (repo / ".opencode/oh-my-opencode.json").read_text() == '{"agents": {}}'
    text = (repo / OMO_4_CONFIG).read_text()
    assert "// my own category" in text and "// migrated by oh-my-opencode" in text
    config = loads(text)
    assert config["categories"]["quick"] == {"model": "opencode/grok-code",
                                             "description": "fast edits"}
    assert {"orch-coder", "orch-merger"} <= set(config["categories"])
    assert config["disabled_agents"] == ["multimodal-looker"]
    assert backups(repo) == [".omo/omo.jsonc.orch-tui-backup-20300102T030405"]


def test_plain_json_legacy_file_stays_valid_json(repo: Path) -> None:
    write(repo, ".opencode/oh-my-opencode.json", '{\n  "agents": {\n    "oracle": {"model": "x"}\n  }\n}\n')
    install(repo)
    config = json.loads((repo / ".opencode/oh-my-opencode.json").read_text())
    assert config["agents"]["oracle"] == {"model": "x"}
    assert "orch-coder" in config["categories"]


def test_creates_a_config_when_none_exists(repo: Path) -> None:
    report = install(repo)
    assert report.config_path == LEGACY_OMO_CONFIGS[0]
    assert [c.action for c in report.changes if c.path == report.config_path] == ["create"]
    config = loads((repo / LEGACY_OMO_CONFIGS[0]).read_text())
    assert set(config) == {"categories", "agents"}, "the schema forbids other top-level keys"


def test_new_config_goes_where_a_pinned_4_19_plugin_reads(repo: Path) -> None:
    write(repo, "opencode.json", '{"plugin": ["oh-my-opencode@4.19.2"]}')
    assert find_omo_config(repo) == OMO_4_CONFIG
    write(repo, "opencode.json", '{"plugin": ["oh-my-opencode@3.5.1"]}')
    assert find_omo_config(repo) == LEGACY_OMO_CONFIGS[0]


def test_user_changes_to_our_entries_are_kept(repo: Path) -> None:
    install(repo, now=lambda: later(0))
    path = repo / LEGACY_OMO_CONFIGS[0]
    config_text = path.read_text()
    # The person picks a model for the coder and rewrites its description.
    config_text = config_text.replace('"orch-coder": {', '"orch-coder": {\n      "model": "local/coder",', 1)
    config_text = config_text.replace('"description": "orch-tui coder', '"description": "my coder', 1)
    path.write_text(config_text)
    report = install(repo, now=lambda: later(1))
    config = loads(path.read_text())
    assert config["categories"]["orch-coder"]["model"] == "local/coder"
    assert config["categories"]["orch-coder"]["description"].startswith("my coder")
    assert any("categories.orch-coder.description" in note for note in report.notes)
    assert not report.changed


def test_sisyphus_note_is_updated_in_place_not_duplicated(repo: Path) -> None:
    install(repo, now=lambda: later(0))
    path = repo / LEGACY_OMO_CONFIGS[0]
    prompt = loads(path.read_text())["agents"]["sisyphus"]["prompt_append"]
    stale = prompt.replace("orch-tui runs", "an older note: orch-tui runs")
    path.write_text(path.read_text().replace(
        prompt.replace("\n", "\\n"), "Mine first.\\n\\n" + stale.replace("\n", "\\n")))
    install(repo, now=lambda: later(1))
    updated = loads(path.read_text())["agents"]["sisyphus"]["prompt_append"]
    assert updated == "Mine first.\n\n" + prompt
    assert updated.count(PROMPT_BEGIN) == 1


def test_file_uri_prompt_append_is_left_alone_with_a_note(repo: Path) -> None:
    write(repo, LEGACY_OMO_CONFIGS[0],
          '{"agents": {"sisyphus": {"prompt_append": "file://./prompts/sisyphus.md"}}}')
    report = install(repo)
    config = loads((repo / LEGACY_OMO_CONFIGS[0]).read_text())
    assert config["agents"]["sisyphus"]["prompt_append"] == "file://./prompts/sisyphus.md"
    assert any("add the orch-tui note" in note for note in report.notes)


def test_cli_init_dry_run_then_real_run(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--repo", str(repo), "--dry-run"]) == 0
    assert "dry run: nothing was written" in capsys.readouterr().out
    assert not (repo / ".opencode").exists()
    assert main(["init", "--repo", str(repo)]) == 0
    assert "create .opencode/command/orch-plan.md" in capsys.readouterr().out
    assert main(["init", "--repo", str(repo)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_broken_config_is_bad_input_and_nothing_is_written(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, ".opencode/oh-my-opencode.jsonc", '{\n  "agents": {\n    "oracle": \n}\n')
    before = snapshot(repo)
    assert main(["init", "--repo", str(repo)]) == 2
    error = capsys.readouterr().err
    assert "oh-my-opencode.jsonc:4" in error and "Traceback" not in error
    assert snapshot(repo) == before
