"""A demo catalog for a site without Stripe keys: packs and plans to show on the pricing page.

Real catalogs come from Stripe (``manage.py billing sync``); these rows only let a fresh clone
show what the pricing page looks like. Billing being off, the page lists them as unavailable,
and the first sync with real keys takes them off sale, as Stripe does not know them.
"""

from __future__ import annotations

from decimal import Decimal

from quickscale.billing.client import is_enabled
from quickscale.billing.models import Price, PriceKind, Product

PACKS = [
    ("demo_price_starter", "Starter pack", 500, Decimal(100)),
    ("demo_price_growth", "Growth pack", 2000, Decimal(500)),
]
PLANS = [
    ("demo_price_basic", "Basic plan", 900, Decimal(200)),
    ("demo_price_pro", "Pro plan", 2900, Decimal(1000)),
]


def seed_demo_catalog() -> bool:
    """Add the demo packs and plans unless billing is on or a catalog exists; returns whether
    it did."""
    if is_enabled() or Price.objects.exists():
        return False
    for stripe_id, name, cents, credits in PACKS + PLANS:
        plan = (stripe_id, name, cents, credits) in PLANS
        product = Product.objects.create(
            stripe_id=stripe_id.replace("demo_price_", "demo_prod_"),
            name=name,
            description=(
                "Credits every month, expiring at the end of the month."
                if plan
                else "Credits that never expire."
            ),
        )
        Price.objects.create(
            stripe_id=stripe_id,
            product=product,
            kind=PriceKind.PLAN if plan else PriceKind.PACK,
            currency="usd",
            unit_amount=cents,
            interval="month" if plan else "",
            interval_count=1 if plan else None,
            credits=credits,
        )
    return True
