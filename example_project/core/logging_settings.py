"""Logging to standard error, where containers and process managers collect it.

``LOG_LEVEL`` sets the level of every logger, Django's included (default ``INFO``).
"""

from __future__ import annotations

from core.environment import env

LOG_LEVEL = env.str("LOG_LEVEL", "INFO").upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's default, which only logs when DEBUG is on and mails admins otherwise.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # The Stripe SDK logs every request at INFO; its failures reach billing's own log.
        "stripe": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}
