"""``python -m benchmarks [name ...] [--option ...]``: run every benchmark module, or the named
ones. Arguments starting with ``-`` (``--quick``, ``--seconds 2``...) are passed to each
benchmark's ``main``; the exit code is the first non-zero one a benchmark returned.

Each benchmark sets Django up for a project of its own, and Django can be set up only once per
process, so when several benchmarks run, each runs in a process of its own."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([str(here)])
        if info.name.startswith("bench_")
    )


def split(argv: list[str]) -> tuple[list[str], list[str]]:
    """Benchmark names, and the options (everything from the first ``-...`` argument on)."""
    for index, argument in enumerate(argv):
        if argument.startswith("-"):
            return argv[:index], argv[index:]
    return argv, []


def main(argv: list[str]) -> int:
    names, options = split(argv)
    names = names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    if len(names) == 1:
        module = importlib.import_module(f"benchmarks.bench_{names[0]}")
        return module.main(options) or 0
    status = 0
    for name in names:
        print(f"== {name}", flush=True)
        command = [sys.executable, "-m", "benchmarks", name, *options]
        returned = subprocess.run(command, cwd=Path(__file__).parent.parent, check=False)
        status = status or returned.returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
