"""`orch-tui init`: install the shipped OpenCode files and merge the oh-my-opencode entries.

Rules that keep the user's work safe:
- A manifest (`.opencode/orch-tui.manifest.json`) records the hash of everything installed,
  so a file still as we left it is updated quietly, while a file the user edited (or one
  that was there before us) is backed up to `<file>.orch-tui-backup-<time>` first, with a
  message.
- The oh-my-opencode config is edited in place (comments, key order and the user's keys
  survive); only the fields we own change, a field the user changed since we wrote it is
  kept, and the file is backed up before any change.
- A second run with nothing new changes nothing. `dry_run` computes the same report and
  writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from orch_tui.skills import omo_fragment_text, shipped_files

from orch_tui.orchestration.infra.atomic import write_atomically
from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.settings.jsonc import MISSING, JsoncDocument, loads

MANIFEST = ".opencode/orch-tui.manifest.json"
OMO_4_CONFIG = ".omo/omo.jsonc"
LEGACY_OMO_CONFIGS = (".opencode/oh-my-opencode.jsonc", ".opencode/oh-my-opencode.json",
                      ".opencode/oh-my-openagent.jsonc", ".opencode/oh-my-openagent.json")
OMO_PACKAGES = ("oh-my-opencode", "oh-my-openagent")
FIRST_OMO_VERSION_WITH_OMO_DIR = (4, 19)
PROMPT_BEGIN = "<!-- orch-tui:begin -->"
PROMPT_END = "<!-- orch-tui:end -->"
_MARKED = re.compile(re.escape(PROMPT_BEGIN) + r".*?" + re.escape(PROMPT_END), re.DOTALL)
NEW_CONFIG_TEXT = "// oh-my-opencode configuration (created by `orch-tui init`)\n{}\n"


@dataclass(frozen=True)
class Change:
    """One file init creates or changes, and why."""

    path: str  # relative to the repository
    action: str  # "create", "update", "replace-edited", "merge"
    backup: str | None = None

    def describe(self) -> str:
        text = {"create": "create", "update": "update", "merge": "merge into",
                "replace-edited": "replace your edited"}[self.action]
        line = f"{text} {self.path}"
        return f"{line} (your copy saved as {self.backup})" if self.backup else line


@dataclass
class InstallReport:
    repo: Path
    config_path: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass
class _Manifest:
    files: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)  # "categories.x.y" -> hash

    @classmethod
    def read(cls, repo: Path) -> _Manifest:
        path = repo / MANIFEST
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(dict(data.get("files", {})), dict(data.get("config_entries", {})))
        except (ValueError, AttributeError, TypeError):
            return cls()  # a damaged manifest only costs us the "edited since" knowledge

    def text(self, config_path: str) -> str:
        data = {"about": "written by `orch-tui init`: hashes of what it installed",
                "orch_tui_version": _version(), "files": dict(sorted(self.files.items())),
                "config_path": config_path,
                "config_entries": dict(sorted(self.config.items()))}
        return json.dumps(data, indent=2) + "\n"


def _version() -> str:
    try:
        return version("orch-tui")
    except PackageNotFoundError:
        return "0+unknown"


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _value_hash(value: Any) -> str:
    return content_hash(json.dumps(value, sort_keys=True, ensure_ascii=False))


def install(repo: Path, *, dry_run: bool = False,
            now: Callable[[], datetime] = datetime.now) -> InstallReport:
    """Install skills, agents and WORKFLOW.md and merge the oh-my-opencode entries."""
    repo = repo.resolve()
    if not repo.is_dir():
        raise BadInput(f"{repo} is not a directory", fix="pass --repo PATH of a git repository")
    config_path = find_omo_config(repo)
    report = InstallReport(repo, config_path, dry_run)
    manifest = _Manifest.read(repo)
    writes: dict[str, str] = {}
    stamp = now().strftime("%Y%m%dT%H%M%S")
    for relative, text in shipped_files().items():
        _plan_file(repo, relative, text, manifest, report, writes, stamp)
    _plan_config(repo, config_path, manifest, report, writes, stamp)
    manifest_text = manifest.text(config_path)
    if _read(repo / MANIFEST) != manifest_text:
        writes[MANIFEST] = manifest_text
    if not dry_run:
        _apply(repo, report, writes)
    return report


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise OrchError(f"cannot read {path}: {error}") from None


def _backup_name(repo: Path, relative: str, stamp: str) -> str:
    candidate, number = f"{relative}.orch-tui-backup-{stamp}", 1
    while (repo / candidate).exists():
        candidate, number = f"{relative}.orch-tui-backup-{stamp}-{number}", number + 1
    return candidate


def _plan_file(repo: Path, relative: str, text: str, manifest: _Manifest,
               report: InstallReport, writes: dict[str, str], stamp: str) -> None:
    current = _read(repo / relative)
    installed = manifest.files.get(relative)
    manifest.files[relative] = content_hash(text)
    if current == text:
        return
    if current is None:
        report.changes.append(Change(relative, "create"))
    elif installed == content_hash(current):
        report.changes.append(Change(relative, "update"))
    else:
        backup = _backup_name(repo, relative, stamp)
        writes[backup] = current
        report.changes.append(Change(relative, "replace-edited", backup))
        report.notes.append(f"{relative} was edited since orch-tui installed it (or was there "
                            f"before): your version is in {backup}")
    writes[relative] = text


def find_omo_config(repo: Path) -> str:
    """The oh-my-opencode config file the installed version reads (relative to `repo`).

    4.19+ migrates the legacy files to `.omo/omo.jsonc`, so that one wins when present; next
    any legacy file (`.jsonc` first, as the plugin prefers it). With no file yet: the 4.x
    location when an installed oh-my-opencode 4.19+ is found, else the legacy one, which
    every version reads (4.19+ migrates it at startup).
    """
    if (repo / OMO_4_CONFIG).is_file():
        return OMO_4_CONFIG
    for relative in LEGACY_OMO_CONFIGS:
        if (repo / relative).is_file():
            return relative
    found = installed_omo_version(repo)
    if found is not None and found >= FIRST_OMO_VERSION_WITH_OMO_DIR:
        return OMO_4_CONFIG
    return LEGACY_OMO_CONFIGS[0]


def installed_omo_version(repo: Path) -> tuple[int, ...] | None:
    """oh-my-opencode's version from a pin in opencode.json[c] or an installed package."""
    for name in ("opencode.jsonc", "opencode.json", ".opencode/opencode.jsonc",
                 ".opencode/opencode.json"):
        pinned = _pinned_version(repo / name)
        if pinned:
            return pinned
    home = Path.home()
    for base in (repo / ".opencode", home / ".cache" / "opencode", home / ".config" / "opencode"):
        for package in OMO_PACKAGES:
            text = _read(base / "node_modules" / package / "package.json")
            if text:
                try:
                    return _version_tuple(str(json.loads(text).get("version", "")))
                except ValueError:
                    continue
    return None


def _pinned_version(path: Path) -> tuple[int, ...] | None:
    text = _read(path)
    if not text:
        return None
    try:
        plugins = loads(text, path).get("plugin", [])
    except (BadInput, AttributeError):
        return None
    for entry in plugins if isinstance(plugins, list) else []:
        name, _, pin = str(entry).rpartition("@")
        if name in OMO_PACKAGES and pin:
            return _version_tuple(pin)
    return None


def _version_tuple(text: str) -> tuple[int, ...] | None:
    numbers = re.findall(r"\d+", text.split("-")[0])
    return tuple(int(number) for number in numbers) or None


def _owned_leaves(fragment: dict[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
    """The (key path, value) pairs init owns: each field of each shipped category."""
    leaves: list[tuple[tuple[str, ...], Any]] = []
    for name, entry in fragment.get("categories", {}).items():
        for key, value in entry.items():
            leaves.append((("categories", name, key), value))
    return leaves


def _plan_config(repo: Path, relative: str, manifest: _Manifest, report: InstallReport,
                 writes: dict[str, str], stamp: str) -> None:
    path = repo / relative
    original = _read(path)
    document = JsoncDocument(original if original is not None else NEW_CONFIG_TEXT, path)
    if not isinstance(document.value, dict):
        raise BadInput("the oh-my-opencode configuration is not a JSON object", path=path,
                       line=1, fix="make the file an object: { ... }")
    fragment = loads(omo_fragment_text())
    for keys, value in _owned_leaves(fragment):
        _merge_leaf(document, keys, value, manifest, report)
    for agent, entry in fragment.get("agents", {}).items():
        _merge_prompt_append(document, agent, entry["prompt_append"], report)
    if original is None:
        writes[relative] = document.text
        report.changes.append(Change(relative, "create"))
    elif document.text != original:
        backup = _backup_name(repo, relative, stamp)
        writes[backup] = original
        writes[relative] = document.text
        report.changes.append(Change(relative, "merge", backup))


def _merge_leaf(document: JsoncDocument, keys: tuple[str, ...], value: Any,
                manifest: _Manifest, report: InstallReport) -> None:
    dotted = ".".join(keys)
    current = document.get(keys)
    installed = manifest.config.get(dotted)
    if current is MISSING or current == value or installed == _value_hash(current):
        document.set(keys, value)
        manifest.config[dotted] = _value_hash(value)
    else:
        report.notes.append(f"kept your value of {dotted} in {report.config_path}")


def _merge_prompt_append(document: JsoncDocument, agent: str, text: str,
                         report: InstallReport) -> None:
    """Our note for `agent` goes between markers, appended to whatever the user wrote."""
    keys = ("agents", agent, "prompt_append")
    block = f"{PROMPT_BEGIN}\n{text}\n{PROMPT_END}"
    current = document.get(keys)
    if current is MISSING or current == "":
        document.set(keys, block)
    elif not isinstance(current, str) or current.startswith("file://"):
        report.notes.append(f"{'.'.join(keys)} in {report.config_path} is not plain text; "
                            f"add the orch-tui note to it yourself:\n{text}")
    elif _MARKED.search(current):
        document.set(keys, _MARKED.sub(lambda _: block, current, count=1))
    else:
        document.set(keys, f"{current.rstrip()}\n\n{block}")


def _apply(repo: Path, report: InstallReport, writes: dict[str, str]) -> None:
    # Backups first, so no change lands before the copy of what it replaces.
    for relative in sorted(writes, key=lambda name: ".orch-tui-backup-" not in name):
        _write_atomically(repo / relative, writes[relative])


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text.encode("utf-8"))
