"""Every handled event type delivered three times, shuffled, from concurrent threads on
PostgreSQL: each payment grants its credits exactly once, each refund takes them back once, and
subscriptions and the catalog end as Stripe's latest state.

The deliveries go through the real webhook view (signature, store, task, processing with the
immediate task backend) from threads that each use their own database connection.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from quickscale.billing.handlers import HANDLED_TYPES
from quickscale.billing.models import (
    EventStatus,
    Payment,
    Price,
    Product,
    Refund,
    Subscription,
    WebhookEvent,
)
from quickscale.credits import ledger
from quickscale.credits.models import CreditTransaction
from tests.billing.conftest import deliver
from tests.billing.fake_stripe import FakeStripe

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
COPIES = 3
MONTH = 30 * 86400


def history(fake: FakeStripe, user: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A month of one customer's billing at Stripe, as the events Stripe sent about it (each a
    snapshot of its object at that moment), and the objects as they are now."""
    events: list[dict[str, Any]] = []

    def sent(event_type: str, data: dict[str, Any]) -> None:
        events.append(fake.event(event_type, data))

    packs = fake.product("Credit pack")
    plans = fake.product("Plans")
    sent("product.created", packs)
    sent("product.created", plans)
    pack = fake.price(packs, 1000, credits="100")
    basic = fake.price(plans, 900, credits="50", interval="month")
    pro = fake.price(plans, 2900, credits="200", interval="month")
    for price in (pack, basic, pro):
        sent("price.created", price)
    customer = fake.customer(user)

    # A pack paid by card, then fully refunded.
    refunded = fake.paid_session(customer, pack, user=user)
    sent("checkout.session.completed", refunded)
    # A pack paid by bank debit: completed unpaid, paid later.
    later = fake.paid_session(customer, pack, user=user, payment_status="unpaid")
    sent("checkout.session.completed", later)
    later["payment_status"] = "paid"
    sent("checkout.session.async_payment_succeeded", later)
    # A pack whose bank debit failed.
    failed = fake.paid_session(customer, pack, user=user, payment_status="unpaid")
    sent("checkout.session.async_payment_failed", failed)

    # A trial subscription that was deleted before the current one.
    ended = fake.subscription(customer, basic, status="trialing")
    sent("customer.subscription.created", ended)
    ended.update(status="canceled", canceled_at=fake.tick(), ended_at=fake.clock)
    sent("customer.subscription.deleted", ended)

    # A subscription: incomplete, its first invoice fails then is paid, it renews, it moves
    # to the pro plan, and is set to cancel at period end.
    subscription = fake.subscription(customer, basic, status="incomplete")
    sent("customer.subscription.created", subscription)
    first = fake.invoice(subscription, status="open")
    sent("invoice.payment_failed", first)
    fake.pay_invoice(first)
    sent("invoice.paid", first)
    subscription["status"] = "active"
    sent("customer.subscription.updated", subscription)
    item = subscription["items"]["data"][0]
    item["current_period_start"] = item["current_period_end"]
    item["current_period_end"] += MONTH
    second = fake.invoice(subscription)
    sent("invoice.paid", second)
    item["price"] = dict(pro)
    subscription["cancel_at_period_end"] = True
    sent("customer.subscription.updated", subscription)

    fake.refund(refunded["_charge"])
    sent("charge.refunded", fake.store["charges"][refunded["_charge"]])
    # The catalog changes: the pack now sells 120 credits, the plans product is renamed.
    pack["metadata"]["credits"] = "120"
    sent("price.updated", pack)
    plans["name"] = "Monthly plans"
    sent("product.updated", plans)
    # A plan price no one bought is archived, and a deleted product never mirrored.
    orphan = fake.price(plans, 100, credits="1", interval="month")
    orphan["active"] = False
    sent("price.deleted", orphan)
    gone = fake.product("Gone")
    del fake.store["products"][gone["id"]]
    sent("product.deleted", gone)

    objects = {
        "refunded": refunded,
        "later": later,
        "failed": failed,
        "subscription": subscription,
        "ended": ended,
        "first": first,
        "second": second,
        "pack": pack,
        "plans": plans,
    }
    return events, objects


def deliver_concurrently(deliveries: list[dict[str, Any]]) -> list[int]:
    """POST every delivery, ``THREADS`` threads taking them in turn, all starting together."""
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = list(deliveries)
    start = threading.Barrier(THREADS)

    def work() -> None:
        client = Client()
        try:
            start.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    event = queue.pop(0)
                response = deliver(client, event)
                with lock:
                    statuses.append(response.status_code)
        except BaseException as error:  # reported by the assertion below
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    return statuses


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_event_three_times_shuffled_from_threads_converges(
    fake: FakeStripe, user: Any, seed: int
) -> None:
    events, objects = history(fake, user)
    fake.latency = 0.005  # Stripe's answers take time: the deliveries overlap more
    assert {event["type"] for event in events} == HANDLED_TYPES
    deliveries = events * COPIES
    random.Random(seed).shuffle(deliveries)

    statuses = deliver_concurrently(deliveries)

    assert Counter(statuses) == {200: len(deliveries)}
    stored = WebhookEvent.objects.all()
    assert stored.count() == len(events)
    assert [(e.stripe_id, e.error) for e in stored if e.status == EventStatus.FAILED] == []
    # Processed once each: no attempt failed and was healed by a later copy of the event.
    assert [(e.type, e.attempts) for e in stored if e.attempts != 1] == []

    # Credits: granted exactly once per paid payment, taken back once for the refund.
    grants = Counter(
        CreditTransaction.objects.filter(kind="grant").values_list("idempotency_key", flat=True)
    )
    assert grants == {
        f"stripe:checkout:{objects['refunded']['id']}": 1,
        f"stripe:checkout:{objects['later']['id']}": 1,
        f"stripe:invoice:{objects['first']['id']}": 1,
        f"stripe:invoice:{objects['second']['id']}": 1,
    }
    assert Refund.objects.count() == 1
    assert ledger.balance(user).balance == D(100) + D(50) + D(50)
    assert ledger.verify() == []

    payments = {
        (p.checkout_session_id or p.invoice_id): (p.status, p.credits)
        for p in Payment.objects.all()
    }
    assert payments == {
        objects["refunded"]["id"]: ("refunded", D(100)),
        objects["later"]["id"]: ("paid", D(100)),
        objects["failed"]["id"]: ("failed", D(0)),
        objects["first"]["id"]: ("paid", D(50)),
        objects["second"]["id"]: ("paid", D(50)),
    }

    # The subscription and the catalog: Stripe's state now.
    at_stripe = objects["subscription"]
    item = at_stripe["items"]["data"][0]
    assert Subscription.objects.get(stripe_id=objects["ended"]["id"]).status == "canceled"
    subscription = Subscription.objects.select_related("price").get(stripe_id=at_stripe["id"])
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", True)
    assert subscription.price is not None
    assert subscription.price.stripe_id == item["price"]["id"]
    assert subscription.current_period_end is not None
    assert int(subscription.current_period_end.timestamp()) == item["current_period_end"]
    assert Price.objects.get(stripe_id=objects["pack"]["id"]).credits == D(120)
    assert Product.objects.get(stripe_id=objects["plans"]["id"]).name == "Monthly plans"
