"""Outgoing email: printed to the console in development, sent over SMTP in production.

Production requires ``EMAIL_HOST`` because sign-up sends a verification email; the other SMTP
variables (``EMAIL_PORT``, ``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS``)
default to an authenticated STARTTLS submission on port 587.
"""

from __future__ import annotations

from core.env_utils import env_bool, env_int, get_env, is_production

PRODUCTION = is_production()

if PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_HOST = get_env("EMAIL_HOST", "localhost", required=PRODUCTION)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = get_env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = get_env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
# A stalled SMTP server must not hold a web worker for ever.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = get_env("DEFAULT_FROM_EMAIL", "QuickScale <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
