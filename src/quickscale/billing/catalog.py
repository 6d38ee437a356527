"""The catalog: Stripe products and prices mirrored with the credits they sell.

A price sells credits when its ``credits`` metadata (or else its product's) is a positive
number: for a one-off price that is a credit pack, for a recurring price a plan granting that
many credits each billing period. ``sync_catalog`` mirrors the whole catalog (the ``billing sync``
command); the webhook handlers refresh one object when Stripe says it changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from quickscale.billing import locks
from quickscale.billing.client import get_client
from quickscale.billing.exceptions import UnknownStripeObject
from quickscale.billing.models import Price, PriceKind, Product
from quickscale.billing.objects import Data, as_data, is_missing, ref
from quickscale.billing.signals import billing_event
from quickscale.core.errors import QuickScaleError
from quickscale.credits.amounts import display, parse_amount

logger = logging.getLogger(__name__)

#: The metadata key, on a price or its product, holding the credits it sells.
CREDITS_KEY = "credits"

Progress = Callable[[int, int], None]


def credits_of(price: Data, product: Data | None) -> Decimal | None:
    """The credits a Stripe price sells, from its metadata or its product's; ``None`` when
    neither says, or the value is not a valid amount of credits (which is logged)."""
    for source in (price, product or {}):
        raw = (source.get("metadata") or {}).get(CREDITS_KEY)
        if raw in (None, ""):
            continue
        try:
            return parse_amount(str(raw), field=f"metadata.{CREDITS_KEY}")
        except QuickScaleError as error:
            logger.warning(
                "Stripe %s %s has invalid %r metadata: %s",
                source.get("object", "object"),
                source.get("id"),
                CREDITS_KEY,
                error.message,
            )
            return None
    return None


def _product_fields(data: Data) -> dict[str, Any]:
    return {
        "name": (data.get("name") or data.get("id") or "")[:255],
        "description": data.get("description") or "",
        "active": bool(data.get("active")) and not data.get("deleted"),
        "metadata": dict(data.get("metadata") or {}),
    }


def _price_fields(data: Data, product: Product, product_data: Data | None) -> dict[str, Any]:
    recurring = data.get("recurring") or {}
    return {
        "product": product,
        "kind": PriceKind.PLAN if recurring else PriceKind.PACK,
        "active": bool(data.get("active")) and not data.get("deleted"),
        "nickname": (data.get("nickname") or "")[:255],
        "lookup_key": (data.get("lookup_key") or "")[:255],
        "currency": (data.get("currency") or "")[:3],
        "unit_amount": data.get("unit_amount"),
        "interval": recurring.get("interval") or "",
        "interval_count": recurring.get("interval_count"),
        "credits": credits_of(data, product_data),
        "metadata": dict(data.get("metadata") or {}),
    }


def _changed(instance: Any, fields: dict[str, Any]) -> bool:
    return any(getattr(instance, name) != value for name, value in fields.items())


def _announce(instance: Product | Price, created: bool) -> None:
    billing_event.send(
        sender=type(instance),
        action="billing.catalog.changed",
        user=None,
        target=instance,
        metadata={
            "stripe_id": instance.stripe_id,
            "created": created,
            "active": instance.active,
            **(
                {"credits": display(instance.credits) if instance.credits is not None else None}
                if isinstance(instance, Price)
                else {}
            ),
        },
    )


def store_product(data: Data) -> Product:
    """Write a Stripe product into the mirror (inside the caller's transaction)."""
    fields = _product_fields(data)
    product = Product.objects.filter(stripe_id=data["id"]).first()
    if product is None:
        product = Product.objects.create(stripe_id=data["id"], **fields)
        _announce(product, created=True)
    elif _changed(product, fields):
        for name, value in fields.items():
            setattr(product, name, value)
        product.save()
        _announce(product, created=False)
    return product


def store_price(data: Data) -> Price:
    """Write a Stripe price (with its product, fetched unless expanded) into the mirror,
    inside the caller's transaction, which holds the price's lock."""
    product_value = data.get("product")
    product_data = product_value if isinstance(product_value, dict) else None
    product_id = ref(product_value)
    if product_id is None:
        raise UnknownStripeObject(f"Stripe price {data.get('id')} has no product.")
    # Prices of one product may be stored at the same moment: one writes the product at a time.
    locks.lock(product_id)
    if product_data is None:
        product_data = fetch_product(product_id)
    product = (
        store_product(product_data)
        if product_data is not None
        else Product.objects.get_or_create(
            stripe_id=product_id, defaults={"name": product_id, "active": False}
        )[0]
    )
    fields = _price_fields(data, product, product_data)
    price = Price.objects.filter(stripe_id=data["id"]).first()
    if price is None:
        price = Price.objects.create(stripe_id=data["id"], **fields)
        _announce(price, created=True)
    elif _changed(price, fields):
        for name, value in fields.items():
            setattr(price, name, value)
        price.save()
        _announce(price, created=False)
    return price


def fetch_product(stripe_id: str) -> Data | None:
    """The product as Stripe has it now, or ``None`` when it was deleted."""
    import stripe

    try:
        return as_data(get_client().v1.products.retrieve(stripe_id))
    except stripe.InvalidRequestError as error:
        if is_missing(error):
            return None
        raise


def refresh_product(stripe_id: str) -> Product | None:
    """Bring one product up to date from Stripe (a deleted one becomes inactive)."""
    with transaction.atomic():
        locks.lock(stripe_id)
        data = fetch_product(stripe_id)
        if data is not None:
            return store_product(data)
        product = Product.objects.filter(stripe_id=stripe_id).first()
        if product is not None and product.active:
            product.active = False
            product.save(update_fields=["active", "updated_at"])
            _announce(product, created=False)
        return product


def refresh_price(stripe_id: str) -> Price | None:
    """Bring one price up to date from Stripe (with its product)."""
    import stripe

    with transaction.atomic():
        locks.lock(stripe_id)
        try:
            data = as_data(
                get_client().v1.prices.retrieve(stripe_id, params={"expand": ["product"]})
            )
        except stripe.InvalidRequestError as error:
            if not is_missing(error):
                raise
            price = Price.objects.filter(stripe_id=stripe_id).first()
            if price is not None and price.active:
                price.active = False
                price.save(update_fields=["active", "updated_at"])
                _announce(price, created=False)
            return price
        return store_price(data)


def ensure_price(stripe_id: str) -> Price:
    """The mirrored price, fetched from Stripe when it is not mirrored yet."""
    price = Price.objects.select_related("product").filter(stripe_id=stripe_id).first()
    if price is not None:
        return price
    found = refresh_price(stripe_id)
    if found is None:
        raise UnknownStripeObject(f"Stripe has no price {stripe_id}.")
    return found


@dataclass
class SyncResult:
    """What :func:`sync_catalog` changed."""

    prices: int = 0
    products: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


def sync_catalog(*, progress: Progress | None = None) -> SyncResult:
    """Mirror every active Stripe price with its product; mirrored prices Stripe no longer
    lists as active become inactive. ``progress(done, total)`` follows the prices written."""
    client = get_client()
    listed = [
        as_data(price)
        for price in client.v1.prices.list(
            params={"active": True, "limit": 100, "expand": ["data.product"]}
        ).auto_paging_iter()
    ]
    result = SyncResult(prices=len(listed))
    seen_prices: set[str] = set()
    seen_products: set[str] = set()
    for done, data in enumerate(listed, start=1):
        with transaction.atomic():
            locks.lock(data["id"])
            before = Price.objects.filter(stripe_id=data["id"]).values("updated_at").first()
            price = store_price(data)
        seen_prices.add(price.stripe_id)
        seen_products.add(price.product.stripe_id)
        if before is None:
            result.created.append(price.stripe_id)
        elif before["updated_at"] != price.updated_at:
            result.updated.append(price.stripe_id)
        if progress is not None:
            progress(done, len(listed))
    result.products = len(seen_products)
    with transaction.atomic():
        for price in Price.objects.filter(active=True).exclude(stripe_id__in=seen_prices):
            price.active = False
            price.save(update_fields=["active", "updated_at"])
            _announce(price, created=False)
            result.deactivated.append(price.stripe_id)
    return result
