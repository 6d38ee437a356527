"""The benchmarks still run (their speed is not asserted: see docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres
def test_ledger_benchmark_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "ledger", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "debit ratio ours/baseline at 1 worker(s):" in result.stdout, output
    assert "debit ratio ours/baseline at 4 worker(s):" in result.stdout, output
    assert "balance read ratio big/small" in result.stdout, output


@pytest.mark.postgres
def test_api_benchmark_quick_run() -> None:
    # Without gunicorn in the environment the benchmark serves with its fallback server.
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "api", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "server: " in result.stdout, output
    assert "API ratio ours/baseline at 1 client(s):" in result.stdout, output
    assert "API ratio ours/baseline at 4 client(s):" in result.stdout, output


@pytest.mark.postgres
def test_api_benchmark_diagnosis() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "api", "--quick", "--diagnose"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Where a request's time goes" in result.stdout, output
    assert "UPDATE quickscale_credits_creditaccount" in result.stdout, output
    assert "CPU time per request by step" in result.stdout, output


def test_unknown_benchmark_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "no-such-benchmark"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown benchmark(s): no-such-benchmark" in result.stdout


def test_api_key_benchmark_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "apikeys", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "verification:" in result.stdout and "target < 50 µs" in result.stdout, output
