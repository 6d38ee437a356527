"""The Django project the API benchmark (``benchmarks/bench_api.py``) serves.

The smallest host a real site could be: the suite's API apps, Django's usual middleware and one
paid service, plus the benchmark's baseline view. It is an installed app too, so its
``services.py`` is discovered like any app's. The benchmark passes the database and the cache
through environment variables (see :mod:`benchmarks.api_project.settings`).
"""
