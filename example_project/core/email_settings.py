"""Outgoing email: printed to the console in development, sent over SMTP in production.

In production, ``EMAIL_HOST`` turns sending on; the other SMTP variables (``EMAIL_PORT``,
``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS``) default to an authenticated
STARTTLS submission on port 587. A deployment that sends no mail leaves it unset: emails then
go to the log (an operator can still read a password-reset link there) and sign-up asks no one
to confirm an address (``SENDS_EMAIL`` below, read by ``core.settings``).
"""

from __future__ import annotations

import django

from core.environment import env

PRODUCTION = env.production()

#: Whether mail leaves the machine: production with an SMTP server.
SENDS_EMAIL = PRODUCTION and bool(env.str("EMAIL_HOST", ""))
_backend = (
    "django.core.mail.backends.smtp.EmailBackend"
    if SENDS_EMAIL
    else "django.core.mail.backends.console.EmailBackend"
)
_smtp = {
    "host": env.str("EMAIL_HOST", "localhost"),
    "port": env.int("EMAIL_PORT", 587),
    "username": env.str("EMAIL_HOST_USER", ""),
    "password": env.str("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env.bool("EMAIL_USE_TLS", True),
    # A stalled SMTP server must not hold a web worker for ever.
    "timeout": env.int("EMAIL_TIMEOUT", 10),
}

if django.VERSION >= (6, 1):
    # Django 6.1 configures mail through MAILERS; the EMAIL_* settings are deprecated there.
    MAILERS = {
        "default": {"BACKEND": _backend, "OPTIONS": _smtp if SENDS_EMAIL else {}},
    }
else:
    EMAIL_BACKEND = _backend
    EMAIL_HOST = _smtp["host"]
    EMAIL_PORT = _smtp["port"]
    EMAIL_HOST_USER = _smtp["username"]
    EMAIL_HOST_PASSWORD = _smtp["password"]
    EMAIL_USE_TLS = _smtp["use_tls"]
    EMAIL_TIMEOUT = _smtp["timeout"]
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "QuickScale <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
