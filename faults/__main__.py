"""``python -m faults [--short] [--keep] [--customers N]``: the fault harness.

Starts a throw-away PostgreSQL, Redis and the example project (gunicorn, task workers, the
sweep), drives a bounded load through it while faults are injected one after another, and
checks after each phase that no credit was created, lost or spent twice, nothing was left
open, every webhook was handled once, the audit chain holds, and no request got a 500 (or a
503 outside an outage). Exits 1 when any check fails, 2 when it cannot start.

Needs Debian's PostgreSQL 15 binaries (``/usr/lib/postgresql/15/bin``), ``redis-server``,
``pgbouncer`` (``apt-get install -y pgbouncer``) and gunicorn in the environment
(``uv run --with "gunicorn>=22,<24" python -m faults``; ``uvx nox -s faults`` does all that).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from faults.checks import Figures
from faults.cluster import PG_BIN, PgBouncer
from faults.harness import Harness, Mode, Result, say
from faults.phases import phases


def missing() -> list[str]:
    needs = []
    if not (PG_BIN / "initdb").exists():
        needs.append(f"PostgreSQL 15 server binaries in {PG_BIN} (apt-get install postgresql-15)")
    if not shutil.which("redis-server"):
        needs.append("redis-server (apt-get install redis-server)")
    if not PgBouncer.installed():
        needs.append("pgbouncer (apt-get install -y pgbouncer)")
    if importlib.util.find_spec("gunicorn") is None:
        needs.append('gunicorn (uv run --with "gunicorn>=22,<24" python -m faults)')
    return needs


def summary(results: list[Result]) -> None:
    say("\n== summary")
    say("| Phase | Requests | Req/s | p50 ms | p95 ms | p99 ms | Statuses | Result |")
    say("|---|---|---|---|---|---|---|---|")
    for result in results:
        f: Figures = result.figures
        verdict = f"FAIL ({len(result.problems)})" if result.problems else "pass"
        say(
            f"| {result.name} | {f.requests} | {f.throughput:.1f} | {f.p50 * 1000:.0f} | "
            f"{f.p95 * 1000:.0f} | {f.p99 * 1000:.0f} | {f.status_line()} | {verdict} |"
        )


def stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by {signal.strsignal(signum)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="brief phases: about 5 minutes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--customers", type=int, default=None, help="customers (default 8)")
    args = parser.parse_args(argv)
    needs = missing()
    if needs:
        say("The fault harness needs: " + "; ".join(needs))
        return 2
    signal.signal(signal.SIGTERM, stop_on_signal)
    mode = Mode.choose(args.short, args.customers)
    root = Path(tempfile.mkdtemp(prefix="quickscale-faults-"))
    root.chmod(0o755)  # PostgreSQL runs as another user inside it
    say(f"fault harness ({'short' if mode.short else 'full'} run); logs in {root}")
    started = time.monotonic()
    harness = Harness(root, mode)
    results: list[Result] = []
    try:
        harness.start()
        plan = phases(mode)
        for number, phase in enumerate(plan, start=1):
            results.append(harness.run_phase(number, len(plan) + 1, phase))
        results.append(harness.final(len(plan) + 1, len(plan) + 1))
    finally:
        harness.close()
    summary(results)
    failed = [result for result in results if result.problems]
    say(f"\n{time.monotonic() - started:.0f} s in all")
    if failed or args.keep:
        say(f"logs kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    if failed:
        say(f"FAILED: {', '.join(result.name for result in failed)}")
        return 1
    say("PASSED: every invariant held in every phase")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
