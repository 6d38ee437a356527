"""HTTPS, cookie and password hardening.

Production (``QUICKSCALE_ENV=production``) turns on SSL redirect, secure cookies and HSTS. It
assumes a TLS-terminating proxy or load balancer in front that sets ``X-Forwarded-Proto``;
without trusting that header every request would look like plain HTTP and redirect forever.
Development leaves them off because ``runserver`` speaks plain HTTP. ``SECURE_SSL_REDIRECT``
and ``SECURE_HSTS_SECONDS`` can be set in the environment, e.g. when the proxy redirects itself.
"""

from __future__ import annotations

from core.environment import env

PRODUCTION = env.production()

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
X_FRAME_OPTIONS = "DENY"

# Origins allowed to POST forms over HTTPS when served under another host name,
# e.g. CSRF_TRUSTED_ORIGINS=https://app.example.com
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
