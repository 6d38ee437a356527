"""Reproducible performance runs, kept out of the unit suite.

Each ``benchmarks/bench_*.py`` module exposes ``main(argv)``; ``python -m benchmarks`` runs them
all (or those named on the command line) and each prints ratios against a baseline measured in
the same run, because absolute numbers on a shared machine mean little.
"""
