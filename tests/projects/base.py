"""What every partial project shares: Django's own apps (the admin included), the middleware,
the templates and the test database."""

from __future__ import annotations

import os

import dj_database_url

SECRET_KEY = "quickscale-tests-not-secret"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "tests.projects.urls"
#: Django's apps without the admin: enough for the apps' own pages (and for proving that every
#: module imports in a project without the admin).
DJANGO_BASE_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
DJANGO_APPS = ["django.contrib.admin", *DJANGO_BASE_APPS]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
#: With the API key middleware right after authentication (quickscale_api.E007, E008).
KEY_MIDDLEWARE = [
    *MIDDLEWARE[:4],
    "quickscale.apikeys.middleware.APIKeyAuthenticationMiddleware",
    *MIDDLEWARE[4:],
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
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
