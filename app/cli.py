"""`orch-tui` command line: parses arguments and hands each subcommand to its module."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from orch_tui.orchestration.errors import OrchError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_NEEDS_PERSON = 3
"""`run` stopped because a merge conflict or a failed check waits for a person."""

EPILOG = """exit codes:
  0  done
  1  failure
  2  bad usage or bad input (the message names the file, the line and the fix)
  3  `run` stopped: a merge conflict or failed check waits for a person; open `orch-tui`
     to resolve it, then `orch-tui run` resumes
"""


def _version() -> str:
    try:
        return version("orch-tui")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


class _Parser(argparse.ArgumentParser):
    """argparse, with the house format for bad usage: what is wrong, then the fix (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} "
                                  f"(fix: see `{self.prog} --help`)\n")


def _count(text: str) -> int:
    """A whole number >= 0 (for --max-batches)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def _add_repo(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    # Subcommands suppress the default so `orch-tui --repo X plan` keeps X.
    parser.add_argument("--repo", type=Path, metavar="PATH",
                        default=Path(".") if top_level else argparse.SUPPRESS,
                        help="the git repository to work on (default: current directory)")


def _add_agent_options(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument("--agent", choices=("opencode", "scripted", "command"), default=default,
                        help="coder agent runner (default: from config, else opencode)")
    parser.add_argument("--agent-mail", metavar="URL", default=default,
                        help="MCP Agent Mail endpoint, e.g. http://127.0.0.1:8765/mcp/")
    parser.add_argument("--batch-size", type=int, metavar="N", default=default,
                        help="tasks per batch, 2..6 (default 4)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="orch-tui",
        description="Run a team of coding agents on one repository: Beads batches, worktree "
                    "lanes, Agent Mail reservations and a serial merge queue.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"orch-tui {_version()}")
    _add_repo(parser, top_level=True)
    _add_agent_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="the whole flow in a throwaway repository with scripted agents")
    demo.add_argument("--dir", type=Path, metavar="DIR", help="create the demo repository here")
    demo.add_argument("--setup-only", action="store_true", help="create the repository and exit")
    demo.add_argument("--agent-mail", metavar="URL", default=argparse.SUPPRESS,
                      help="use this Agent Mail server")

    plan = commands.add_parser("plan", help="bv-compatible plan plus the proposed batch, no UI")
    _add_repo(plan)
    plan.add_argument("--json", action="store_true", help="one JSON object on stdout")
    plan.add_argument("--batch-size", type=int, metavar="N", default=argparse.SUPPRESS,
                      help="tasks per batch, 2..6 (default 4)")

    run = commands.add_parser("run", help="the engine headless", epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_repo(run)
    _add_agent_options(run)
    run.add_argument("--yes", action="store_true", help="approve every proposed batch")
    run.add_argument("--max-batches", type=_count, metavar="N", help="stop after N batches")

    status = commands.add_parser("status", help="lanes, reservations, merge queue, journal")
    _add_repo(status)
    status.add_argument("--agent-mail", metavar="URL", default=argparse.SUPPRESS,
                        help="ask this Agent Mail server (default: from config)")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")

    init = commands.add_parser("init", help="install skills, agent/category config, WORKFLOW.md")
    _add_repo(init)
    init.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")

    openspec = commands.add_parser("import-openspec", help="OpenSpec change tasks -> Beads tasks")
    _add_repo(openspec)
    openspec.add_argument("change_id", metavar="CHANGE-ID")

    doctor = commands.add_parser(
        "doctor", help="check what orch-tui depends on: ok / warn / fail, each with the fix",
        epilog="exit codes: 0 every row ok, 1 warnings only, 2 any failure",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_repo(doctor)
    doctor.add_argument("--json", action="store_true", help="one JSON object on stdout")
    doctor.add_argument("--no-serve", action="store_true", help="do not try starting `opencode serve`")
    doctor.add_argument("--agent", choices=("opencode", "scripted", "command"), default=argparse.SUPPRESS,
                        help="check this agent runner instead of the configured one")
    doctor.add_argument("--agent-mail", metavar="URL", default=argparse.SUPPRESS,
                        help="check this Agent Mail endpoint instead of the configured one")

    pool = commands.add_parser("pool", help="lane worktrees: status, prune the surplus, reset a lane",
                               description="Each lane worktree with its branch, state, disk use and age "
                                           "(status); remove lanes beyond the batch size and stale entries "
                                           "(prune); return a lane to a clean state (reset LANE). Nothing "
                                           "with uncommitted work is removed without --force.")
    _add_repo(pool)
    pool.add_argument("action", nargs="?", choices=("status", "prune", "reset"), default="status")
    pool.add_argument("lane", nargs="?", type=int, metavar="LANE", help="the lane to reset")
    pool.add_argument("--json", action="store_true", help="one JSON object on stdout")
    pool.add_argument("--force", action="store_true", help="also remove or reset lanes with uncommitted work")
    pool.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    pool.add_argument("--batch-size", type=int, metavar="N", default=argparse.SUPPRESS,
                      help="lanes to keep when pruning (default: the configured batch size)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name = (args.command or "dashboard").replace("-", "_")
    try:
        command = importlib.import_module(f"orch_tui.app.commands.{module_name}")
        return int(command.run(args))
    except OrchError as error:
        from orch_tui.app.terminal_text import literal_lines  # messages may quote task text

        print(f"orch-tui: {literal_lines(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("orch-tui: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a fault of ours: said in one line, the traceback only on request
        if os.environ.get("ORCH_TUI_DEBUG"):
            raise
        print(f"orch-tui: unexpected error in `{args.command or 'orch-tui'}`: {type(error).__name__}: {error} "
              "(a bug: please report it; ORCH_TUI_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
