#!/usr/bin/env bash
# Installs everything the test suite drives for real, idempotently:
#   .venv/                  orch-tui with its test extras
#   .tools/agent-mail/      the MCP Agent Mail server (PyPI build) in its own virtual environment
#   tests/tools/node/       the real opencode and openspec CLIs from the npm registry
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"

step() { printf '\n== %s\n' "$*" >&2; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

step "orch-tui and its test dependencies (.venv)"
[ -x .venv/bin/python ] || "$python" -m venv .venv || fail "could not create .venv with $python"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' \
  || fail "pip install -e .[test] failed"

agent_mail_version="0.1.0"
step "MCP Agent Mail server $agent_mail_version (.tools/agent-mail)"
marker=".tools/agent-mail/.installed-$agent_mail_version"
if [ ! -f "$marker" ]; then
  rm -rf .tools/agent-mail
  "$python" -m venv .tools/agent-mail || fail "could not create .tools/agent-mail"
  .tools/agent-mail/bin/python -m pip install --quiet --disable-pip-version-check \
    "mcp-agent-mail==$agent_mail_version" || fail "pip install mcp-agent-mail failed"
  touch "$marker"
fi

step "opencode and openspec (tests/tools/node)"
command -v npm >/dev/null || fail "npm is not installed: install Node.js 20 or newer"
if [ ! -x tests/tools/node/node_modules/.bin/opencode ] || [ ! -x tests/tools/node/node_modules/.bin/openspec ] \
   || [ tests/tools/node/package-lock.json -nt tests/tools/node/node_modules/.package-lock.json ]; then
  # npm ci rejects npm 11 lock files that omit the other platforms' optional binaries
  # (a known npm fault), so install from the lock without rewriting it.
  npm install --prefix tests/tools/node --no-save --no-audit --no-fund --loglevel=error \
    || fail "npm install of opencode-ai and @fission-ai/openspec failed"
fi
tests/tools/node/node_modules/.bin/opencode --version >/dev/null || fail "opencode does not run"
tests/tools/node/node_modules/.bin/openspec --version >/dev/null || fail "openspec does not run"
