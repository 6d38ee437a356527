"""Settings of the "all apps" test project.

The database comes from ``DATABASE_URL`` (PostgreSQL in CI, e.g.
``postgres://postgres@127.0.0.1:5432/quickscale``); without it the suite runs on SQLite.
"""

from __future__ import annotations

import os

import dj_database_url

SECRET_KEY = "quickscale-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
# English unless a request asks for another of LANGUAGES (LocaleMiddleware).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

QUICKSCALE_APPS = [
    "quickscale.core",
    "quickscale.credits",
    "quickscale.services",
    "quickscale.apikeys",
    "quickscale.billing",
    "quickscale.audit",
    "quickscale.api",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    *QUICKSCALE_APPS,
    "tests.hostapp",
    # Its tables, so tests can enqueue into the database task backend (TASKS stays the
    # default immediate backend; see tests/projects/tasks_worker.py).
    "django_tasks_db",
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or "sqlite:///:memory:", conn_max_age=0
    )
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "quickscale.core.middleware.RequestContextMiddleware",
    "quickscale.core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "quickscale.apikeys.middleware.APIKeyAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
