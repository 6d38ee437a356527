"""Finding and repairing what missed webhooks left out of date.

:func:`reconcile` compares Stripe with our records over a window of days: the catalog, every
subscription of our customers, paid checkout sessions and subscription invoices, refunds, and
our own stored events that were never processed. Each difference is listed; with
``repair=True`` it is fixed by the very functions the webhook handlers use, under the same
locks and idempotency keys, so a repair never grants twice and can run while webhooks arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from quickscale.billing import catalog, handlers, locks, payments
from quickscale.billing.client import get_client
from quickscale.billing.customers import USER_KEY
from quickscale.billing.models import (
    Customer,
    EventStatus,
    Payment,
    PaymentStatus,
    Price,
    Refund,
    Subscription,
    WebhookEvent,
)
from quickscale.billing.objects import Data, as_data, moment, ref
from quickscale.billing.subscriptions import plan_item, sync_subscription

__all__ = ["Difference", "reconcile", "summary"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
#: A stored event still pending after this long lost its task.
STALE_EVENT = timedelta(minutes=5)


@dataclass
class Difference:
    """One thing our records and Stripe disagree on."""

    kind: str
    stripe_id: str
    problem: str
    #: ``None`` while not attempted; then whether the repair worked.
    repaired: bool | None = None
    error: str = ""


@dataclass(frozen=True)
class Step:
    """One comparison of :func:`reconcile`: its label, and the function finding its differences
    (each with its repair)."""

    label: str
    find: Callable[[datetime], list[tuple[Difference, Callable[[], object]]]]


def _listed(page: Any) -> Iterator[Data]:
    for item in page.auto_paging_iter():
        yield as_data(item)


def _ours(data: Data, customers: set[str]) -> bool:
    """Whether a Stripe object belongs to this site: one of our customers, or our metadata."""
    return ref(data.get("customer")) in customers or bool(
        (data.get("metadata") or {}).get(USER_KEY)
    )


def catalog_differences(since: datetime) -> list[tuple[Difference, Callable[[], object]]]:
    """Prices on sale at Stripe missing or out of date here, and prices active here that Stripe
    no longer sells."""
    listed = list(
        _listed(
            get_client().v1.prices.list(
                params={"active": True, "limit": 100, "expand": ["data.product"]}
            )
        )
    )
    local = {price.stripe_id: price for price in Price.objects.select_related("product")}
    found: list[tuple[Difference, Callable[[], object]]] = []
    seen = set()
    for data in listed:
        seen.add(data["id"])
        price = local.get(data["id"])
        product = data.get("product") if isinstance(data.get("product"), dict) else None
        if price is None:
            problem = "on sale at Stripe, missing here"
        else:
            wanted = {
                "active": True,
                "unit_amount": data.get("unit_amount"),
                "currency": data.get("currency"),
                "credits": catalog.credits_of(data, product),
            }
            differs = [name for name, value in wanted.items() if getattr(price, name) != value]
            if product is not None and price.product.name != (product.get("name") or ""):
                differs.append("product name")
            if not differs:
                continue
            problem = "differs: " + ", ".join(differs)
        found.append((Difference("price", data["id"], problem), partial(_store_price, data)))
    for stripe_id, price in local.items():
        if price.active and stripe_id not in seen:
            found.append(
                (
                    Difference("price", stripe_id, "active here, not on sale at Stripe"),
                    partial(catalog.refresh_price, stripe_id),
                )
            )
    return found


def _store_price(data: Data) -> Price:
    with transaction.atomic():
        locks.lock(data["id"])
        return catalog.store_price(data)


def subscription_differences(since: datetime) -> list[tuple[Difference, Callable[[], object]]]:
    """Our customers' subscriptions missing here or differing from Stripe's (status, price,
    period end, cancellation)."""
    customers = set(Customer.objects.values_list("stripe_id", flat=True))
    local = {sub.stripe_id: sub for sub in Subscription.objects.select_related("price")}
    found: list[tuple[Difference, Callable[[], object]]] = []
    for data in _listed(get_client().v1.subscriptions.list(params={"status": "all", "limit": 100})):
        if not _ours(data, customers):
            continue
        ours = local.get(data["id"])
        if ours is None:
            if (
                data.get("status") in ("canceled", "incomplete_expired")
                and (moment(data.get("ended_at")) or timezone.now()) < since
            ):
                continue  # long over: nothing to repair
            problem = f"{data.get('status')} at Stripe, missing here"
        else:
            item = plan_item(data) or {}
            wanted = {
                "status": data.get("status"),
                "price": ref(item.get("price")),
                "current_period_end": moment(item.get("current_period_end")),
                "cancel_at_period_end": bool(data.get("cancel_at_period_end")),
            }
            have = {
                "status": ours.status,
                "price": ours.price.stripe_id if ours.price else None,
                "current_period_end": ours.current_period_end,
                "cancel_at_period_end": ours.cancel_at_period_end,
            }
            differs = [
                f"{name} {have[name]} here, {wanted[name]} at Stripe"
                for name in wanted
                if wanted[name] != have[name]
            ]
            if not differs:
                continue
            problem = "; ".join(differs)
        found.append(
            (
                Difference("subscription", data["id"], problem),
                partial(sync_subscription, data["id"]),
            )
        )
    return found


def payment_differences(since: datetime) -> list[tuple[Difference, Callable[[], object]]]:
    """Paid pack checkout sessions and subscription invoices of the window that were never
    recorded (or credited)."""
    client = get_client()
    customers = set(Customer.objects.values_list("stripe_id", flat=True))
    created: Any = {"gte": int(since.timestamp())}
    found: list[tuple[Difference, Callable[[], object]]] = []
    for session in _listed(
        client.v1.checkout.sessions.list(
            params={"status": "complete", "created": created, "limit": 100}
        )
    ):
        if session.get("mode") != "payment" or not _ours(session, customers):
            continue
        if session.get("payment_status") not in payments.PAID_CHECKOUT:
            continue
        if _recorded_paid(checkout_session_id=session["id"]):
            continue
        found.append(
            (
                Difference("payment", session["id"], "paid at Stripe, not recorded or credited"),
                partial(payments.record_checkout, session),
            )
        )
    subscriptions = set(Subscription.objects.values_list("stripe_id", flat=True))
    for invoice in _listed(
        client.v1.invoices.list(params={"status": "paid", "created": created, "limit": 100})
    ):
        subscription_id = payments.subscription_of_invoice(invoice)
        if subscription_id is None:
            continue
        if subscription_id not in subscriptions and not _ours(invoice, customers):
            continue
        if _recorded_paid(invoice_id=invoice["id"]):
            continue
        found.append(
            (
                Difference("payment", invoice["id"], "paid at Stripe, not recorded or credited"),
                partial(payments.record_invoice, invoice),
            )
        )
    return found


def _recorded_paid(**lookup: str) -> bool:
    return Payment.objects.filter(**lookup).exclude(status=PaymentStatus.FAILED).exists()


def refund_differences(since: datetime) -> list[tuple[Difference, Callable[[], object]]]:
    """Refunds of the window, of charges that paid us, that were never recorded (one repair per
    charge)."""
    created: Any = {"gte": int(since.timestamp())}
    recorded = set(Refund.objects.values_list("stripe_id", flat=True))
    found: list[tuple[Difference, Callable[[], object]]] = []
    charges: set[str] = set()
    for refund in _listed(get_client().v1.refunds.list(params={"created": created, "limit": 100})):
        charge_id = ref(refund.get("charge"))
        if (
            refund["id"] in recorded
            or refund.get("status") not in payments.COUNTED_REFUNDS
            or charge_id is None
            or charge_id in charges
        ):
            continue
        intent_id = ref(refund.get("payment_intent"))
        known = Payment.objects.filter(
            Q(charge_id=charge_id) | Q(payment_intent_id=intent_id or "-")
        ).exists()
        if not known and not _paid_for_us(intent_id):
            continue
        charges.add(charge_id)
        found.append(
            (
                Difference("refund", refund["id"], f"of charge {charge_id}, not recorded"),
                partial(payments.record_refunds, charge_id),
            )
        )
    return found


def _paid_for_us(intent_id: str | None) -> bool:
    """Whether a payment intent paid one of our checkout sessions or subscription invoices
    (asked of Stripe: the intent of an invoice is only learnt when it is refunded)."""
    if not intent_id:
        return False
    client = get_client()
    sessions = as_data(
        client.v1.checkout.sessions.list(params={"payment_intent": intent_id, "limit": 1})
    )
    customers = set(Customer.objects.values_list("stripe_id", flat=True))
    if any(_ours(session, customers) for session in sessions.get("data") or []):
        return True
    paid = as_data(
        client.v1.invoice_payments.list(
            params={"payment": {"type": "payment_intent", "payment_intent": intent_id}}
        )
    )
    invoices = [ref(item.get("invoice")) for item in paid.get("data") or []]
    return Payment.objects.filter(invoice_id__in=[i for i in invoices if i]).exists()


def event_differences(since: datetime) -> list[tuple[Difference, Callable[[], object]]]:
    """Our stored events that failed, or are still pending after :data:`STALE_EVENT`."""
    stale = timezone.now() - STALE_EVENT
    events = (
        WebhookEvent.objects.filter(
            Q(status=EventStatus.FAILED) | Q(status=EventStatus.PENDING, received_at__lt=stale)
        )
        .order_by("created", "pk")
        .values_list("pk", "stripe_id", "type", "status", "error")
    )
    return [
        (
            Difference(
                "event",
                stripe_id,
                f"{event_type} {status}" + (f": {error[:120]}" if error else ""),
            ),
            partial(_process, pk),
        )
        for pk, stripe_id, event_type, status, error in events
    ]


def _process(event_id: int) -> None:
    event = handlers.process(event_id)
    if event.status == EventStatus.FAILED:
        raise RuntimeError(event.error)


STEPS = (
    Step("Comparing the catalog", catalog_differences),
    Step("Comparing subscriptions", subscription_differences),
    Step("Comparing payments", payment_differences),
    Step("Comparing refunds", refund_differences),
    Step("Checking stored events", event_differences),
)


def reconcile(
    *,
    days: int = 30,
    repair: bool = False,
    progress: Callable[[str], Progress | None] | None = None,
) -> list[Difference]:
    """Every difference found over the last ``days`` days, repaired when ``repair`` is set
    (each repair in its own transaction; a failed one is reported and the others go on).
    ``progress(label)`` may return a ``progress(done, total)`` callable for each step."""
    since = timezone.now() - timedelta(days=days)
    differences: list[Difference] = []
    for step in STEPS:
        found = step.find(since)
        report = progress(step.label) if progress is not None else None
        for done, (difference, fix) in enumerate(found, start=1):
            differences.append(difference)
            if repair:
                _repair(difference, fix)
            if report is not None:
                report(done, len(found))
        if report is not None and not found:
            report(0, 0)
    return differences


def _repair(difference: Difference, fix: Callable[[], object]) -> None:
    try:
        fix()
    # A repair that fails is reported with its error and the others still run.
    except Exception as error:
        logger.exception("Repairing %s %s failed", difference.kind, difference.stripe_id)
        difference.repaired = False
        difference.error = f"{type(error).__name__}: {error}"
    else:
        difference.repaired = True


def summary(differences: Iterable[Difference]) -> dict[str, int]:
    """The number of differences of each kind."""
    counts: dict[str, int] = {}
    for difference in differences:
        counts[difference.kind] = counts.get(difference.kind, 0) + 1
    return counts
