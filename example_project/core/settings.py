"""Settings of the QuickScale example project.

Environment-first: every deployment-specific value is an environment variable with a safe
development default, so a fresh clone runs with none set (SQLite, console email, DEBUG on).

Production is ``QUICKSCALE_ENV=production``. It requires ``SECRET_KEY``, ``ALLOWED_HOSTS`` and
``API_KEY_PEPPER`` (start-up fails with ``ImproperlyConfigured`` naming the missing one), forces
DEBUG off, and switches on the HTTPS settings of ``core.security_settings``. ``DATABASE_URL`` (e.g.
``postgres://user:password@host:5432/name``) selects PostgreSQL and ``REDIS_URL`` the Redis
cache in any mode; ``EMAIL_HOST`` turns on sending mail (see ``core.email_settings``).
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

# Django reads only the UPPER_CASE names these imports bring in.
from core.email_settings import *  # noqa: F403
from core.environment import env
from core.logging_settings import *  # noqa: F403
from core.security_settings import *  # noqa: F403

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION = env.production()

SECRET_KEY = env.str(
    "SECRET_KEY",
    env.development_default(
        "django-insecure-quickscale-example-development-only-never-use-in-production"
    ),
)
DEBUG = not PRODUCTION and env.bool("DEBUG", True)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", env.development_default(["localhost", "127.0.0.1", "[::1]"])
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Lets WhiteNoise serve static files under runserver too, as it does in production.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "quickscale.core",
    "quickscale.credits",
    "quickscale.services",
    "quickscale.apikeys",
    "quickscale.billing",
    "quickscale.audit",
    "quickscale.api",
    # The database queue of django.tasks: async services and webhook processing run in a
    # worker (``manage.py db_worker``; ``manage.py demo`` starts one).
    "django_tasks_db",
    "common",
    "users",
    "public",
    "playground",
    "admin_dashboard",
    "demo_services",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Request id, client address and actor of every request, for the audit log.
    "quickscale.core.middleware.RequestContextMiddleware",
    # While the database cannot be reached: a 503 with Retry-After (JSON under /api/), not a 500.
    "quickscale.core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After the session user is known: a request to /api/ with a key becomes its owner's.
    "quickscale.apikeys.middleware.APIKeyAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "common.context_processors.project_settings",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env.str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=600,
        conn_health_checks=True,
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take the lock when their transaction starts, so concurrent requests queue
    # instead of failing with "database is locked" half-way through a ledger write.
    # The web server and the task worker are two processes: a writer waits up to 20 seconds for
    # the other's lock rather than failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
# The languages a visitor's Accept-Language header can pick (LocaleMiddleware).
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed file names let browsers cache static files for ever; they need
    # collectstatic, so development serves the source files as they are.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Authentication: email and password only, through django-allauth.
AUTH_USER_MODEL = "users.CustomUser"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SITE_ID = 1
#: The product's name, in page titles, emails ("[QuickScale] ...") and the header.
SITE_NAME = env.str("SITE_NAME", "QuickScale")
SITE_TAGLINE = env.str("SITE_TAGLINE", "Prepaid credits, paid services and API keys.")
#: The host emails link to when they are sent outside a request: the first of ALLOWED_HOSTS in
#: production, runserver's address in development.
SITE_DOMAIN = env.str("SITE_DOMAIN", ALLOWED_HOSTS[0] if PRODUCTION else "127.0.0.1:8000")
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "users:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "public:home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
# Development has no mail server to confirm addresses with; production insists on it when it
# sends mail, and cannot ask when it sends none.
ACCOUNT_EMAIL_VERIFICATION = (
    "mandatory" if SENDS_EMAIL else "optional" if not PRODUCTION else "none"  # noqa: F405
)

# A refused form, in the site's layout.
CSRF_FAILURE_VIEW = "common.views.csrf_failure"

# API keys are stored as an HMAC of their secret with a pepper of their own, kept apart from
# SECRET_KEY so that rotating one does not invalidate every key. Required in production; in
# development the pepper is derived from SECRET_KEY. Set it before issuing keys: keys made
# before it stop working (their owners roll them).
API_KEY_PEPPER = env.str("API_KEY_PEPPER", env.development_default(""))
if API_KEY_PEPPER:
    QUICKSCALE_APIKEYS_PEPPERS = {1: API_KEY_PEPPER}

# Background work: the database queue, run by ``manage.py db_worker``.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# The cache: Redis from REDIS_URL (e.g. redis://127.0.0.1:6379/0), which every web process shares,
# so an API key's rate limit holds across them; without it each process counts for itself
# (fine in development; `check --deploy` warns about it).
REDIS_URL = env.str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }

# Billing through Stripe: on when all three are set, e.g. from the Stripe dashboard's test mode
# (the webhook endpoint is /stripe/webhook/).
QUICKSCALE_BILLING_STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", "")
QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", "")
QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", "")
# Without them, development (DEBUG on) buys through the payment sandbox: a local checkout page
# and signed webhooks, no money and no network. It never runs with DEBUG off or in production
# (a system check refuses it, and it refuses to act).
QUICKSCALE_BILLING_SANDBOX = env.bool(
    "BILLING_SANDBOX",
    DEBUG
    and not (
        QUICKSCALE_BILLING_STRIPE_SECRET_KEY
        or QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY
        or QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET
    ),
)

# The "LLM completion" demo service: any OpenAI-compatible endpoint, e.g.
# DEMO_LLM_BASE_URL=https://api.openai.com/v1 or http://localhost:11434/v1 (Ollama). Without a
# base URL and a model the service is listed as not configured and refuses to run.
DEMO_LLM_BASE_URL = env.str("DEMO_LLM_BASE_URL", "")
DEMO_LLM_API_KEY = env.str("DEMO_LLM_API_KEY", "")
DEMO_LLM_MODEL = env.str("DEMO_LLM_MODEL", "")
# The "Document report" demo service waits while this file exists (for demos and tests that
# look at a run in progress).
DEMO_REPORT_HOLD_FILE = env.str("DEMO_REPORT_HOLD_FILE", "")
