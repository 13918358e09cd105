"""The bad-input corpus: every case in tests/bad_input/*.toml through the real CLI.

Each case is a command line run as a subprocess against a repository built from the case's
description (its files, its kind of repository, its read-only paths). Every case asserts
what a person would notice: the exit code, a message naming the file, the line and the fix,
never a traceback, no raw control character reaching the terminal, and the person's files
byte for byte as they were unless the command was meant to change them.
See tests/bad_input/README.md for the case format.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.helpers import git

CORPUS_DIR = Path(__file__).resolve().parents[1] / "bad_input"
UNREACHABLE_AGENT_MAIL = "http://127.0.0.1:9/mcp/"
"""Nothing listens on the discard port: Agent Mail is refused at once (sequential mode)."""
_REPEAT = re.compile(r"\{\{repeat:(?P<text>[^:}]*):(?P<count>\d+)\}\}")
_RAW_BYTE = re.compile(r"\{\{byte:(?P<hex>[0-9a-f]{2})\}\}")
# What must never reach a terminal from task text: escapes, C1 controls, bidi overrides.
_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Case:
    name: str
    argv: list[str]
    source: str
    repo: str = "plain"
    files: dict[str, str] = field(default_factory=dict)
    readonly: list[str] = field(default_factory=list)
    """Paths (relative to the repository) made read-only for the command."""
    unreadable: list[str] = field(default_factory=list)
    """Paths made unreadable (mode 000) for the command."""
    never_created: list[str] = field(default_factory=list)
    """File names that must not appear anywhere under the test's directory (injection)."""
    exit: int = 2
    stderr: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    """Text that must appear in neither stdout nor stderr (a secret, a forged line)."""
    changes: bool = False
    """True when the command is meant to change the repository (a `run` that merges)."""
    may_change: list[str] = field(default_factory=list)
    """Fingerprint keys allowed to differ (`repo/.beads/issues.jsonl`, `<refs>`); the rest may not."""
    git_files: dict[str, str] = field(default_factory=dict)
    """Files written under the repository's .git after it is built (lock files of another git)."""
    must_exist: list[str] = field(default_factory=list)
    """Paths (relative to the repository) still there afterwards (a lock orch-tui must not remove)."""
    server: str = ""
    """An Agent Mail stand-in at `{server}` answering every request badly: `garbage` (bytes
    that are not JSON), `error` (HTTP 500), `html` (a proxy's error page), `empty` (200, no body)."""
    full_disk: bool = False
    timeout: float = 60.0


def _load_corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS_DIR.glob("*.toml")):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        for entry in document["case"]:
            cases.append(Case(source=path.name, **entry))
    names = [case.name for case in cases]
    duplicates = {name for name in names if names.count(name) > 1}
    assert not duplicates, f"case names must be unique: {sorted(duplicates)}"
    return cases


CORPUS = _load_corpus()


def _expand(text: str) -> str:
    """`{{repeat:T:N}}` is T written N times; `{{byte:ff}}` one raw byte (not UTF-8)."""
    text = _REPEAT.sub(lambda match: match["text"] * int(match["count"]), text)
    # surrogateescape turns U+DC80..U+DCFF back into the single bytes 0x80..0xFF on encoding.
    return _RAW_BYTE.sub(lambda match: chr(0xDC00 + int(match["hex"], 16)), text)


def _write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_expand(text).encode("utf-8", "surrogateescape"))


def _commit_all(repo: Path, message: str = "initial commit") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def _build_repo(case: Case, base: Path) -> Path:
    """The repository (or non-repository) the case's command line points at."""
    repo = base / "repo"
    kind = case.repo
    if kind == "missing":
        return repo
    if kind == "file":
        repo.write_text("not a directory\n")
        return repo
    repo.mkdir()
    if kind == "bare":
        git(repo, "init", "-q", "--bare", "-b", "main")
        return repo
    if kind == "none":
        _write_files(repo, case.files)
        return repo
    if kind == "shallow":
        origin = base / "origin"
        origin.mkdir()
        git(origin, "init", "-q", "-b", "main")
        _write_files(origin, case.files)
        _commit_all(origin, "first")
        (origin / "second.txt").write_text("second\n")
        _commit_all(origin, "second")
        shutil.rmtree(repo)
        git(base, "clone", "-q", "--depth", "1", f"file://{origin}", str(repo))
        return repo
    git(repo, "init", "-q", "-b", "main")
    _write_files(repo, case.files)
    if kind == "no-commits":
        return repo
    _commit_all(repo)
    if kind == "detached":
        git(repo, "checkout", "-q", "--detach")
    elif kind == "submodule":
        library = base / "library"
        library.mkdir()
        git(library, "init", "-q", "-b", "main")
        (library / "lib.txt").write_text("library\n")
        _commit_all(library)
        git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor/library")
        _commit_all(repo, "add a submodule")
    elif kind != "plain":
        raise AssertionError(f"unknown repo kind {kind!r} in case {case.name}")
    return repo


def _fingerprint(root: Path) -> dict[str, str]:
    """Hashes of every file the person owns under `root`, and where their branches point.

    orch-tui's own state (`.git/orch-tui/`, lane worktrees beside the repository) and the
    index, which git refreshes on a mere status, are not the person's files.
    """
    prints: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        inside_git = f"/{relative}".partition("/.git/")
        if inside_git[1] and inside_git[2] not in ("HEAD", "config"):
            continue
        if ".orch-lanes" in relative or path.is_dir() or path.is_symlink():
            continue
        prints[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    repo = root / "repo"
    if (repo / ".git").exists() or (repo / "HEAD").exists():
        prints["<refs>"] = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", check=False)
    return prints


def _without_permission_override(argv: list[str]) -> list[str]:
    """Root ignores file modes; drop the capability so a read-only directory stays read-only."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a directory unwritable")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--", *argv]


def _mount_tiny_tmpfs(where: Path) -> None:
    where.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs to fill up ({result.stderr.strip()})")


def _fill(path: Path) -> None:
    """Write zeros to `path` until the file system is full."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _environment(home: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("GIT_DIR", "GIT_WORK_TREE", "AGENT_MAIL"))}
    environment.update(HOME=str(home), NO_COLOR="1", COLUMNS="120", PYTHONIOENCODING="utf-8")
    return environment


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_bad_input_case(case: Case, tmp_path: Path) -> None:
    base = tmp_path
    if case.full_disk:
        base = tmp_path / "tiny"
        _mount_tiny_tmpfs(base)
    try:
        _run_case(case, base, tmp_path)
    finally:
        if case.full_disk:
            subprocess.run(["umount", "-l", str(base)], check=False)


class _BadServer(BaseHTTPRequestHandler):
    mode = "garbage"
    ANSWERS = {"garbage": (200, "application/json", b"\x00\xff{not json"),
               "error": (500, "application/json", b'{"error": "internal"}'),
               "html": (502, "text/html", b"<html><body>Bad Gateway</body></html>"),
               "empty": (200, "application/json", b"")}

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        status, kind, body = self.ANSWERS[self.mode]
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass


@contextlib.contextmanager
def _bad_server(mode: str) -> Iterator[str]:
    handler = type("Handler", (_BadServer,), {"mode": mode})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp/"
    finally:
        server.shutdown()
        server.server_close()


def _run_case(case: Case, base: Path, tmp_path: Path) -> None:
    if case.server:
        with _bad_server(case.server) as url:
            _run_case_against(case, base, tmp_path, url)
    else:
        _run_case_against(case, base, tmp_path, "")


def _run_case_against(case: Case, base: Path, tmp_path: Path, server_url: str) -> None:
    repo = _build_repo(case, base)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "orch_tui.app",
            *(word.replace("{repo}", str(repo)).replace("{base}", str(base))
              .replace("{agent_mail}", UNREACHABLE_AGENT_MAIL).replace("{server}", server_url)
              for word in case.argv)]
    for name, text in case.git_files.items():
        (repo / ".git" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / ".git" / name).write_text(text)
    modes = {name: (repo / name).stat().st_mode for name in [*case.readonly, *case.unreadable]}
    for name in case.readonly:
        (repo / name).chmod(modes[name] & ~0o222)
    for name in case.unreadable:
        (repo / name).chmod(0)
    if modes:
        argv = _without_permission_override(argv)
    if case.full_disk:
        _fill(base / "filler")
    before = _fingerprint(base)
    result = subprocess.run(argv, capture_output=True, env=_environment(home), cwd=tmp_path,
                            timeout=case.timeout, check=False)
    stdout = result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    shown = f"exit {result.returncode}\n--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"

    assert "Traceback" not in stderr + stdout, shown
    assert result.returncode == case.exit, shown
    for expected in case.stderr:
        assert expected.replace("{repo}", str(repo)) in stderr, f"{expected!r} not in stderr\n{shown}"
    for expected in case.stdout:
        assert expected.replace("{repo}", str(repo)) in stdout, f"{expected!r} not in stdout\n{shown}"
    for secret in case.absent:
        assert secret not in stdout + stderr, f"{secret!r} was shown\n{shown}"
    raw = _RAW_CONTROL.search(stdout + stderr)
    assert raw is None, f"raw control character {raw.group()!r} reached the terminal\n{shown}"
    if case.exit == 2:
        assert "fix:" in stderr, f"a bad-input message says how to fix it\n{shown}"
    for name in case.never_created:
        found = list(tmp_path.rglob(name))
        assert not found, f"task text was run as a command: {found}\n{shown}"
    for name, mode in modes.items():
        (repo / name).chmod(mode)
    for name in case.must_exist:
        assert (repo / name).exists(), f"{name} was removed\n{shown}"
    if not case.changes:
        after = _fingerprint(base)
        for key in case.may_change:
            before.pop(key, None)
            after.pop(key, None)
        assert after == before, f"the person's files changed\n{shown}"


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 60
