"""Run the benchmarks: `.venv/bin/python -m tests.benchmarks.run [NAME ...]`.

Each `bench_<name>.py` beside this file defines `run() -> list[Result]`. With no NAME every
benchmark runs; the table prints medians, ratios and whether each target was met.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from tests.benchmarks.harness import Result


def main(names: list[str]) -> int:
    folder = Path(__file__).parent
    available = sorted(path.stem.removeprefix("bench_") for path in folder.glob("bench_*.py"))
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}",
              file=sys.stderr)
        return 2
    for name in names or available:
        print(f"\n## {name}", flush=True)
        module = importlib.import_module(f"tests.benchmarks.bench_{name}")
        results: list[Result] = module.run()
        for result in results:
            print(result.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
