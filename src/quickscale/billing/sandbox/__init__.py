"""The payment sandbox: a development stand-in for Stripe, with no account and no network.

With ``QUICKSCALE_BILLING_SANDBOX = True`` (and ``DEBUG`` on, outside production, without
Stripe keys: see :mod:`~quickscale.billing.sandbox.guard`) billing is enabled and
:func:`quickscale.billing.client.get_client` returns a real ``stripe.StripeClient`` whose HTTP
client is the sandbox's emulator of the Stripe API (:mod:`~quickscale.billing.sandbox.emulator`),
so every part of billing calls the SDK exactly as against Stripe. Its objects live in the
database (``SandboxObject``). Checkout sends the buyer to the sandbox's own page ("Test payment:
no money moves"); paying there makes what Stripe makes and delivers the events Stripe would
send, signed, to the site's real webhook endpoint (:mod:`~quickscale.billing.sandbox.delivery`).

Modules: ``guard`` (when it may act), ``store`` (where objects live), ``account`` (the objects
and their builders), ``lifecycle`` (what Stripe does with them), ``emulator`` (the REST API),
``delivery`` (events to the webhook), ``actions`` (paying, advancing a period), ``views`` and
``urls`` (the checkout and portal pages, the staff's "advance one period").
"""

from __future__ import annotations

from quickscale.billing.sandbox.actions import Advanced, account, advance_period
from quickscale.billing.sandbox.guard import is_active

__all__ = ["Advanced", "account", "advance_period", "is_active"]
