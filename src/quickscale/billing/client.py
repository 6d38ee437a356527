"""The Stripe API client, built from the settings each time it is needed.

Billing is *enabled* when the secret key, the publishable key and the webhook secret are all
set, or when the payment sandbox is active (development only, see
:mod:`quickscale.billing.sandbox`); everything else in the app asks :func:`is_enabled` (or calls
:func:`require_enabled`) first, so a site without them keeps working and says what is missing
instead of failing. With the sandbox the client is a real ``stripe.StripeClient`` whose HTTP
client is the sandbox's emulator of the Stripe API, so every caller runs as against Stripe.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from django.conf import settings

from quickscale.billing.exceptions import BillingDisabled

if TYPE_CHECKING:
    import stripe

__all__ = [
    "REQUIRED_SETTINGS",
    "get_client",
    "is_enabled",
    "missing_settings",
    "require_enabled",
    "sandbox_active",
    "webhook_secret",
]

REQUIRED_SETTINGS = (
    "QUICKSCALE_BILLING_STRIPE_SECRET_KEY",
    "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY",
    "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET",
)
#: Retries of a request that failed on the network or with a 409/5xx, made by the SDK with an
#: idempotency key so a retried POST never acts twice. ``STRIPE_CLIENT_OPTIONS`` may override it.
DEFAULT_NETWORK_RETRIES = 2
#: The API key the SDK sends to the sandbox (which checks none).
SANDBOX_API_KEY = "sk_test_quickscale_sandbox"

_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()


def sandbox_active() -> bool:
    """Whether billing runs against the payment sandbox (``QUICKSCALE_BILLING_SANDBOX``, and
    allowed: see :mod:`quickscale.billing.sandbox.guard`)."""
    # Imported here: the sandbox package imports this module.
    from quickscale.billing.sandbox import guard

    return guard.is_active()


def missing_settings() -> list[str]:
    """The Stripe settings that are not set, in a fixed order (none with the sandbox)."""
    if sandbox_active():
        return []
    return [name for name in REQUIRED_SETTINGS if not getattr(settings, name, "")]


def is_enabled() -> bool:
    """Whether billing is configured: all three Stripe settings are set, or the sandbox is
    active."""
    return not missing_settings()


def webhook_secret() -> str:
    """The secret webhook signatures are checked with: the endpoint's signing secret, or the
    sandbox's own (derived from ``SECRET_KEY``) while the sandbox is active."""
    if sandbox_active():
        from quickscale.billing.sandbox import guard

        return guard.signing_secret()
    secret: str = settings.QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET
    return secret


def require_enabled() -> None:
    """Raise :class:`BillingDisabled` naming the missing settings unless billing is enabled
    (and why the sandbox does not stand in, when it is asked for)."""
    missing = missing_settings()
    if missing:
        from quickscale.billing.sandbox import guard

        refused = guard.refusal() if guard.requested() else None
        raise BillingDisabled(
            "Billing is not configured: "
            + ", ".join(missing)
            + (" is" if len(missing) == 1 else " are")
            + " not set."
            + (f" {guard.SETTING} is on, but refused because {refused}." if refused else ""),
            details={"missing": missing},
        )


def get_client() -> stripe.StripeClient:
    """A ``stripe.StripeClient`` for the configured secret key.

    ``QUICKSCALE_BILLING_STRIPE_CLIENT_OPTIONS`` adds keyword arguments (``http_client``,
    ``max_network_retries``, ``proxy``, ``stripe_account``...). Raises ``BillingDisabled`` when
    billing is not configured. While the sandbox is active the options are not used.
    """
    require_enabled()
    import stripe

    if sandbox_active():
        from quickscale.billing.sandbox.emulator import Emulator

        return stripe.StripeClient(
            SANDBOX_API_KEY, http_client=Emulator.for_site(), max_network_retries=0
        )
    options: dict[str, Any] = {
        "max_network_retries": DEFAULT_NETWORK_RETRIES,
        **settings.QUICKSCALE_BILLING_STRIPE_CLIENT_OPTIONS,
    }
    if "http_client" not in options and "proxy" not in options:
        options["http_client"] = _default_http_client()
    return stripe.StripeClient(settings.QUICKSCALE_BILLING_STRIPE_SECRET_KEY, **options)


def _default_http_client() -> stripe.HTTPClient:
    """One HTTP client for the process, so its connections to Stripe are kept alive between
    clients (it keeps a session per thread)."""
    import stripe

    with _shared_lock:
        if "http" not in _shared:
            _shared["http"] = stripe.new_default_http_client()
        client: stripe.HTTPClient = _shared["http"]
        return client
