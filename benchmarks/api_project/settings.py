"""Settings of the API benchmark's project.

``QS_BENCH_DATABASE_URL``
    the benchmark's throw-away PostgreSQL database (``postgres://...``), required.
``QS_BENCH_REDIS_URL``
    a Redis server for the cache (the rate-limit counters), or empty for local memory.
``QS_BENCH_CACHE_PREFIX``
    the prefix of this run's cache keys, so runs sharing a Redis server do not meet.
``QS_BENCH_DIAGNOSE``
    ``1`` adds :class:`benchmarks.api_project.diagnostics.DiagnosticsMiddleware`, which times
    each request's SQL, commits and cache calls (``--diagnose``).
"""

from __future__ import annotations

import os

from benchmarks.common import database_settings

SECRET_KEY = "quickscale-benchmarks-not-secret"
DEBUG = False  # no query log growing during the run
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "benchmarks.api_project.urls"
WSGI_APPLICATION = "benchmarks.api_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "quickscale.core",
    "quickscale.credits",
    "quickscale.services",
    "quickscale.apikeys",
    "quickscale.api",
    "benchmarks.api_project",
]

# Django's usual stack, in the order the example project uses (without the pieces for pages).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "quickscale.apikeys.middleware.APIKeyAuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if os.environ.get("QS_BENCH_DIAGNOSE") == "1":
    MIDDLEWARE.insert(0, "benchmarks.api_project.diagnostics.DiagnosticsMiddleware")

DATABASES = {"default": database_settings(os.environ["QS_BENCH_DATABASE_URL"])}

_redis = os.environ.get("QS_BENCH_REDIS_URL", "")
_prefix = os.environ.get("QS_BENCH_CACHE_PREFIX", "qs_bench")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis,
            "KEY_PREFIX": _prefix,
        }
        if _redis
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": _prefix,
        }
    )
}

# The benchmark's key sets its own limit (1,000,000 a minute, the most a key may have); this is
# the fallback, far above anything the benchmark can send.
QUICKSCALE_APIKEYS_RATE_LIMIT = 100_000_000

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"django.server": {"level": "ERROR"}},  # the fallback server's request log
}
