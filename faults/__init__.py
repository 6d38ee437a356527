"""The fault harness: the example project run as deployed, broken on purpose under load.

``uvx nox -s faults`` (or ``uv run --with "gunicorn>=22,<24" python -m faults``); see
``docs/reliability.md``. Not part of the installed package and not imported by the tests'
settings: :mod:`faults.checks` is plain Python, tested in ``tests/test_faults.py``.
"""
