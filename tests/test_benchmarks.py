"""The benchmarks still run (their speed is not asserted: see docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def benchmark(*arguments: str) -> tuple[int, str, str]:
    """Run ``python -m benchmarks <arguments>``; its exit code, its output and all it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout, result.stdout + result.stderr


@pytest.mark.postgres
def test_ledger_benchmark_quick_run() -> None:
    status, out, everything = benchmark("ledger", "--quick")

    assert status == 0, everything
    assert "debit ratio ours/baseline at 1 worker(s):" in out, everything
    assert "debit ratio ours/baseline at 4 worker(s):" in out, everything
    assert "balance read ratio big/small" in out, everything


@pytest.mark.postgres
def test_api_benchmark_quick_run() -> None:
    # Without gunicorn in the environment the benchmark serves with its fallback server.
    status, out, everything = benchmark("api", "--quick")

    assert status == 0, everything
    assert "server: " in out, everything
    assert "API ratio ours/baseline at 1 client(s):" in out, everything
    assert "API ratio ours/baseline at 4 client(s):" in out, everything
    assert "bare view, prepared" in out and "API/bare-prep" in out, everything


@pytest.mark.postgres
def test_api_benchmark_diagnosis() -> None:
    status, out, everything = benchmark("api", "--quick", "--diagnose")

    assert status == 0, everything
    assert "Where a request's time goes" in out, everything
    assert "UPDATE quickscale_credits_creditaccount" in out, everything
    assert "CPU time per request by step" in out, everything


@pytest.mark.postgres
def test_billing_benchmark_quick_run() -> None:
    status, out, everything = benchmark("billing", "--quick")

    assert status == 0, everything
    assert "webhook ratio ours/baseline at 1 thread(s):" in out, everything
    assert "webhook ratio ours/baseline at 4 thread(s):" in out, everything


def test_unknown_benchmark_is_refused() -> None:
    status, out, _ = benchmark("no-such-benchmark")

    assert status == 2
    assert "unknown benchmark(s): no-such-benchmark" in out


def test_api_key_benchmark_quick_run() -> None:
    status, out, everything = benchmark("apikeys", "--quick")

    assert status == 0, everything
    assert "verification:" in out and "target < 50 µs" in out, everything


@pytest.mark.postgres
def test_audit_benchmark_quick_run() -> None:
    status, out, everything = benchmark("audit", "--quick")

    assert status == 0, everything
    assert "audited write overhead, ledger.debit(user, 1):" in out, everything
    assert "audited write overhead, ledger.grant(user, 1):" in out, everything
    assert "admin changelist at 20,000 events, slowest page" in out, everything
    assert "sealing: " in out, everything
