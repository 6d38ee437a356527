"""When the payment sandbox may act: never in production.

``QUICKSCALE_BILLING_SANDBOX = True`` asks for it; it acts only while ``DEBUG`` is on,
``QUICKSCALE_ENV`` is not ``production`` and no Stripe key is set. The system checks refuse
every other case at start-up (``quickscale_billing.E008`` to ``E011``), but checks do not run
under a WSGI server, so the same conditions are read again on every use: a sandbox that is
refused leaves billing "not configured" and logs a warning saying why.

Nothing here imports the rest of billing, so the client and the checks can ask it anything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading

from django.conf import settings

__all__ = ["is_active", "refusal", "requested", "signing_secret"]

logger = logging.getLogger("quickscale.billing.sandbox")

SETTING = "QUICKSCALE_BILLING_SANDBOX"
#: The Stripe settings that, once set, mean Stripe itself is to be used.
STRIPE_KEYS = (
    "QUICKSCALE_BILLING_STRIPE_SECRET_KEY",
    "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY",
    "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET",
)
#: What the signing secret is derived from SECRET_KEY for, so it is no other secret's twin.
SECRET_PURPOSE = b"quickscale.billing.sandbox.webhook"

_warned: set[str] = set()
_warned_lock = threading.Lock()


def requested() -> bool:
    """Whether the setting asks for the sandbox."""
    return getattr(settings, SETTING, False) is True


def environment() -> str:
    """``QUICKSCALE_ENV`` from the settings when it is defined there, else from the
    environment; lower case."""
    value = getattr(settings, "QUICKSCALE_ENV", None)
    if value is None:
        value = os.environ.get("QUICKSCALE_ENV", "")
    return str(value).strip().lower()


def stripe_keys_set() -> list[str]:
    """The Stripe settings that are set."""
    return [name for name in STRIPE_KEYS if getattr(settings, name, "")]


def refusal() -> str | None:
    """Why the sandbox may not act now, or ``None`` when it may (whether or not it is
    requested)."""
    if not settings.DEBUG:
        return "DEBUG is off"
    if environment() == "production":
        return "QUICKSCALE_ENV is production"
    keys = stripe_keys_set()
    if keys:
        return f"{' and '.join(keys)} {'is' if len(keys) == 1 else 'are'} set"
    return None


def is_active() -> bool:
    """Whether billing runs against the sandbox now: requested and not refused."""
    if not requested():
        return False
    reason = refusal()
    if reason is None:
        return True
    with _warned_lock:
        first = reason not in _warned
        _warned.add(reason)
    if first:
        logger.warning(
            "%s is on but the payment sandbox is refused because %s: billing stays off. "
            "The sandbox is for development only.",
            SETTING,
            reason,
        )
    return False


def signing_secret() -> str:
    """The sandbox's webhook signing secret, derived from ``SECRET_KEY`` (HMAC-SHA256), so
    every process of the site signs and verifies with the same one and nothing is stored."""
    digest = hmac.new(settings.SECRET_KEY.encode(), SECRET_PURPOSE, hashlib.sha256).hexdigest()
    return f"whsec_sandbox_{digest}"
