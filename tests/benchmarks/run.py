"""Run the benchmarks: `.venv/bin/python -m tests.benchmarks.run [NAME ...]`.

Each `bench_<name>.py` beside this file defines `run() -> list[Result]`. With no NAME every
benchmark runs; the table prints medians, ratios and whether each target was met.
"""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
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
    print(machine_line(), flush=True)
    everything: list[Result] = []
    for name in names or available:
        print(f"\n## {name}", flush=True)
        module = importlib.import_module(f"tests.benchmarks.bench_{name}")
        results: list[Result] = module.run()
        for result in results:
            print(result.line(), flush=True)
        everything += results
    judged = [result for result in everything if result.met is not None]
    missed = [result.name for result in judged if not result.met]
    print(f"\n{len(judged) - len(missed)} of {len(judged)} targets met"
          + (f"; missed: {'; '.join(missed)}" if missed else ""), flush=True)
    print(machine_line(), flush=True)  # the load at the end says how quiet the run was
    return 0


def machine_line() -> str:
    """The machine the figures come from: CPU, cores, Python, git, and its load right now."""
    model = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"machine: {model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {git}; load average {load}")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
