"""`orch-tui import-openspec`: not built yet."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    print("orch-tui import-openspec: not yet available in this version", file=sys.stderr)
    return 1
