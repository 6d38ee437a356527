"""The demo's catalog of credit packs and plans.

With the payment sandbox standing in for Stripe (development without Stripe keys), the packs and
plans are created in it through the Stripe API, as one would in Stripe's dashboard, and mirrored
by billing's own catalog sync, so buying one goes through checkout and webhooks end to end.
With real Stripe keys nothing is added (``manage.py billing sync`` mirrors your own catalog). With
billing off, rows are written locally so the pricing page shows what it would sell, unavailable.
"""

from __future__ import annotations

from decimal import Decimal

from quickscale.billing.catalog import sync_catalog
from quickscale.billing.client import get_client, is_enabled
from quickscale.billing.models import Price, PriceKind, Product
from quickscale.billing.sandbox import is_active as sandbox_active

#: (name, price in cents, credits, description); plans renew every month.
PACKS = [
    ("Starter pack", 500, Decimal(100), "100 credits that never expire."),
    ("Growth pack", 2000, Decimal(500), "500 credits that never expire: a fifth cheaper."),
]
PLANS = [
    ("Basic plan", 900, Decimal(200), "200 credits every month, expiring at the month's end."),
    ("Pro plan", 2900, Decimal(1000), "1,000 credits every month, expiring at the month's end."),
]


def seed_demo_catalog() -> str:
    """Add the demo packs and plans unless a catalog exists; returns where they went
    (``"sandbox"`` or ``"local"``), or ``""`` when nothing was added."""
    if Price.objects.exists():
        return ""
    if sandbox_active():
        _create_in_sandbox()
        return "sandbox"
    if is_enabled():
        return ""
    _create_locally()
    return "local"


def _create_in_sandbox() -> None:
    client = get_client()
    for plan, offers in ((False, PACKS), (True, PLANS)):
        for name, cents, credits, description in offers:
            product = client.v1.products.create(
                params={
                    "name": name,
                    "description": description,
                    "metadata": {"credits": str(credits)},
                }
            )
            price: dict[str, object] = {
                "product": product.id,
                "unit_amount": cents,
                "currency": "usd",
                "metadata": {"credits": str(credits)},
            }
            if plan:
                price["recurring"] = {"interval": "month"}
            client.v1.prices.create(params=price)
    sync_catalog()


def _create_locally() -> None:
    for plan, offers in ((False, PACKS), (True, PLANS)):
        for name, cents, credits, description in offers:
            slug = name.lower().replace(" ", "_")
            product = Product.objects.create(
                stripe_id=f"demo_prod_{slug}", name=name, description=description
            )
            Price.objects.create(
                stripe_id=f"demo_price_{slug}",
                product=product,
                kind=PriceKind.PLAN if plan else PriceKind.PACK,
                currency="usd",
                unit_amount=cents,
                interval="month" if plan else "",
                interval_count=1 if plan else None,
                credits=credits,
            )
