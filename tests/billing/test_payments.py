"""Payments through verified webhooks: credits are granted once per paid payment, and refunds
take them back, never below zero, recording what was spent already."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from quickscale.billing.models import (
    EventStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
    Subscription,
    WebhookEvent,
)
from quickscale.billing.signals import billing_event
from quickscale.credits import ledger
from quickscale.credits.models import CreditGrant, CreditTransaction
from tests.billing.conftest import Shop, deliver
from tests.billing.fake_stripe import FakeStripe


def grants_with_key(key: str) -> int:
    return CreditTransaction.objects.filter(idempotency_key=key, kind="grant").count()


def last_event() -> WebhookEvent:
    return WebhookEvent.objects.order_by("-pk").first()  # type: ignore[return-value]


# -- credit packs -----------------------------------------------------------------------------


def test_a_paid_pack_checkout_grants_its_credits_for_good(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)

    deliver(client, fake.event("checkout.session.completed", session))

    payment = Payment.objects.get()
    assert (payment.user, payment.kind, payment.status) == (user, PaymentKind.PACK, "paid")
    assert (payment.amount, payment.currency, payment.credits) == (1000, "usd", D(100))
    assert payment.payment_intent_id == session["payment_intent"]
    assert payment.price is not None and payment.price.stripe_id == shop.pack["id"]
    assert ledger.balance(user).balance == D(100)
    grant = CreditGrant.objects.get()
    assert (grant.source, grant.expires_at) == ("purchase", None)
    assert payment.grant_entry is not None
    assert payment.grant_entry.idempotency_key == f"stripe:checkout:{session['id']}"


def test_an_unpaid_checkout_grants_nothing_until_its_payment_succeeds(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user, payment_status="unpaid")
    completed = fake.event("checkout.session.completed", session)
    session["payment_status"] = "paid"
    succeeded = fake.event("checkout.session.async_payment_succeeded", session)

    deliver(client, completed)
    assert last_event().status == EventStatus.IGNORED
    assert ledger.balance(user).balance == 0

    deliver(client, succeeded)
    assert ledger.balance(user).balance == D(100)
    assert grants_with_key(f"stripe:checkout:{session['id']}") == 1


def test_the_unpaid_completion_arriving_after_the_success_changes_nothing(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user, payment_status="unpaid")
    completed = fake.event("checkout.session.completed", session)
    session["payment_status"] = "paid"
    succeeded = fake.event("checkout.session.async_payment_succeeded", session)

    deliver(client, succeeded)
    deliver(client, completed)

    assert ledger.balance(user).balance == D(100)
    assert Payment.objects.get().status == PaymentStatus.PAID


def test_a_failed_async_payment_is_recorded_without_credits(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user, payment_status="unpaid")

    deliver(client, fake.event("checkout.session.async_payment_failed", session))

    payment = Payment.objects.get()
    assert (payment.status, payment.credits, payment.grant_entry) == ("failed", D(0), None)
    assert ledger.balance(user).balance == 0


def test_the_credits_are_those_shown_at_checkout_even_if_the_catalog_changed(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    shop.pack["metadata"]["credits"] = "150"
    deliver(client, fake.event("price.updated", shop.pack))

    deliver(client, fake.event("checkout.session.completed", session))

    assert ledger.balance(user).balance == D(100)


def test_a_checkout_made_elsewhere_grants_the_credits_of_its_line_items(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack)
    session["metadata"] = {}
    session["_line_items"][0]["quantity"] = 3

    deliver(client, fake.event("checkout.session.completed", session))

    assert ledger.balance(user).balance == D(300)


def test_a_session_naming_another_user_than_its_customer_grants_nothing(
    client: Client, fake: FakeStripe, shop: Shop, user: Any, make_user: Any
) -> None:
    other = make_user()
    session = fake.paid_session(fake.customer(user), shop.pack, user=other)

    deliver(client, fake.event("checkout.session.completed", session))

    event = last_event()
    assert event.status == EventStatus.FAILED
    assert "belongs to user" in event.error
    assert ledger.balance(user).balance == 0
    assert ledger.balance(other).balance == 0


def test_a_customer_without_a_row_is_linked_through_its_metadata(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack)

    deliver(client, fake.event("checkout.session.completed", session))

    assert user.billing_customer.stripe_id == session["customer"]
    assert ledger.balance(user).balance == D(100)


def test_a_payment_sends_billing_event_inside_its_transaction(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    from django.db import connection

    seen: list[tuple[str, bool]] = []

    def receiver(sender: Any, action: str, **kwargs: Any) -> None:
        seen.append((action, connection.in_atomic_block))

    billing_event.connect(receiver)
    try:
        session = fake.paid_session(fake.customer(user), shop.pack, user=user)
        deliver(client, fake.event("checkout.session.completed", session))
    finally:
        billing_event.disconnect(receiver)

    assert ("billing.payment.succeeded", True) in seen


# -- subscriptions ----------------------------------------------------------------------------


@pytest.fixture
def subscribed(fake: FakeStripe, shop: Shop, user: Any) -> dict[str, Any]:
    """The user's Stripe subscription to the basic plan, this month."""
    return fake.subscription(fake.customer(user), shop.basic)


def test_a_paid_invoice_grants_the_plans_credits_until_the_period_ends(
    client: Client, fake: FakeStripe, subscribed: dict[str, Any], user: Any
) -> None:
    invoice = fake.invoice(subscribed)

    deliver(client, fake.event("invoice.paid", invoice))

    payment = Payment.objects.get()
    period_end = subscribed["items"]["data"][0]["current_period_end"]
    assert (payment.kind, payment.status, payment.credits) == ("subscription", "paid", D(50))
    assert payment.credits_expire_at == payment.period_end
    assert int(payment.period_end.timestamp()) == period_end
    assert payment.subscription == Subscription.objects.get(stripe_id=subscribed["id"])
    grant = CreditGrant.objects.get()
    assert (grant.source, int(grant.expires_at.timestamp())) == ("subscription", period_end)
    assert ledger.balance(user).balance == D(50)
    assert grants_with_key(f"stripe:invoice:{invoice['id']}") == 1


def test_each_period_grants_once(
    client: Client, fake: FakeStripe, subscribed: dict[str, Any], user: Any
) -> None:
    first = fake.invoice(subscribed)
    item = subscribed["items"]["data"][0]
    item["current_period_start"] = item["current_period_end"]
    item["current_period_end"] += 30 * 86400
    second = fake.invoice(subscribed)
    events = [fake.event("invoice.paid", first), fake.event("invoice.paid", second)]

    for event in events + events:
        deliver(client, event)

    assert ledger.balance(user).balance == D(100)
    assert Payment.objects.count() == 2


def test_an_invoice_processed_after_its_period_grants_nothing(
    client: Client, fake: FakeStripe, subscribed: dict[str, Any], user: Any
) -> None:
    now = int(time.time())
    invoice = fake.invoice(subscribed, period_start=now - 40 * 86400, period_end=now - 10 * 86400)

    deliver(client, fake.event("invoice.paid", invoice))

    payment = Payment.objects.get()
    assert (payment.status, payment.credits, payment.grant_entry) == ("paid", D(0), None)
    assert "period was over" in last_event().note
    assert ledger.balance(user).balance == 0


def test_a_failed_invoice_then_its_payment_grants_once(
    client: Client, fake: FakeStripe, subscribed: dict[str, Any], user: Any
) -> None:
    invoice = fake.invoice(subscribed, status="open")
    failed = fake.event("invoice.payment_failed", invoice)
    fake.pay_invoice(invoice)
    paid = fake.event("invoice.paid", invoice)

    deliver(client, failed)
    assert Payment.objects.get().status == PaymentStatus.FAILED
    deliver(client, paid)
    deliver(client, failed)

    payment = Payment.objects.get()
    assert (payment.status, payment.credits) == ("paid", D(50))
    assert ledger.balance(user).balance == D(50)


def test_proration_lines_grant_nothing(
    client: Client, fake: FakeStripe, subscribed: dict[str, Any], user: Any
) -> None:
    invoice = fake.invoice(subscribed, proration=True)

    deliver(client, fake.event("invoice.paid", invoice))

    assert Payment.objects.get().credits == 0
    assert ledger.balance(user).balance == 0


def test_an_invoice_of_no_subscription_is_ignored(
    client: Client, fake: FakeStripe, subscribed: dict[str, Any]
) -> None:
    invoice = fake.invoice(subscribed)
    invoice["parent"] = None

    deliver(client, fake.event("invoice.paid", invoice))

    assert last_event().status == EventStatus.IGNORED
    assert Payment.objects.count() == 0


# -- refunds ----------------------------------------------------------------------------------


@pytest.fixture
def bought(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> dict[str, Any]:
    """A pack of 100 credits bought for 10.00 USD and recorded."""
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    deliver(client, fake.event("checkout.session.completed", session))
    assert ledger.balance(user).balance == D(100)
    return session


def refund_event(fake: FakeStripe, charge_id: str, amount: int | None = None) -> dict[str, Any]:
    fake.refund(charge_id, amount)
    return fake.event("charge.refunded", fake.store["charges"][charge_id])


def test_a_full_refund_takes_back_every_credit_bought(
    client: Client, fake: FakeStripe, bought: dict[str, Any], user: Any
) -> None:
    deliver(client, refund_event(fake, bought["_charge"]))

    payment = Payment.objects.get()
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.REFUNDED, 1000)
    assert (payment.credits_clawed_back, payment.credits_shortfall) == (D(100), D(0))
    assert ledger.balance(user).balance == 0
    refund = Refund.objects.get()
    assert (refund.credits, refund.credits_clawed_back, refund.credits_shortfall) == (
        D(100),
        D(100),
        D(0),
    )
    assert refund.ledger_entry is not None
    assert refund.ledger_entry.idempotency_key == f"stripe:refund:{refund.stripe_id}"
    assert ledger.verify(user) == []


def test_a_refund_after_the_credits_were_spent_leaves_zero_and_records_the_shortfall(
    client: Client, fake: FakeStripe, bought: dict[str, Any], user: Any
) -> None:
    ledger.debit(user, 70, reason="service runs")

    deliver(client, refund_event(fake, bought["_charge"]))

    assert ledger.balance(user).balance == 0
    payment = Payment.objects.get()
    assert (payment.credits_clawed_back, payment.credits_shortfall) == (D(30), D(70))
    refund = Refund.objects.get()
    assert (refund.credits_clawed_back, refund.credits_shortfall) == (D(30), D(70))
    assert refund.ledger_entry is not None
    assert refund.ledger_entry.metadata["revoke"]["shortfall"] == "70.00"
    assert ledger.verify(user) == []


def test_a_refund_when_everything_was_spent_takes_nothing_and_records_it_all(
    client: Client, fake: FakeStripe, bought: dict[str, Any], user: Any
) -> None:
    ledger.debit(user, 100)

    deliver(client, refund_event(fake, bought["_charge"]))

    assert ledger.balance(user).balance == 0
    assert Refund.objects.get().credits_shortfall == D(100)


def test_partial_refunds_take_back_their_share(
    client: Client, fake: FakeStripe, bought: dict[str, Any], user: Any
) -> None:
    deliver(client, refund_event(fake, bought["_charge"], 250))

    payment = Payment.objects.get()
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 250)
    assert ledger.balance(user).balance == D(75)

    deliver(client, refund_event(fake, bought["_charge"], 750))

    payment.refresh_from_db()
    assert (payment.status, payment.credits_clawed_back) == ("refunded", D(100))
    assert ledger.balance(user).balance == 0


def test_a_refund_delivered_again_takes_nothing_more(
    client: Client, fake: FakeStripe, bought: dict[str, Any], user: Any
) -> None:
    ledger.grant(user, 500, source="promotion")
    event = refund_event(fake, bought["_charge"], 500)

    for _ in range(3):
        deliver(client, event)

    assert ledger.balance(user).balance == D(550)
    assert Refund.objects.count() == 1


def test_the_refunded_pack_is_taken_back_before_other_credits(
    client: Client, fake: FakeStripe, bought: dict[str, Any], user: Any
) -> None:
    soon = timezone.now() + timedelta(days=3)
    monthly = ledger.grant(user, 40, source="subscription", expires_at=soon)

    deliver(client, refund_event(fake, bought["_charge"]))

    assert CreditGrant.objects.get(pk=monthly.grant_id).remaining == D(40)
    assert ledger.balance(user).balance == D(40)


def test_a_refund_arriving_before_its_payment_records_both_once(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    completed = fake.event("checkout.session.completed", session)
    refunded = refund_event(fake, session["_charge"])

    deliver(client, refunded)
    deliver(client, completed)

    payment = Payment.objects.get()
    assert (payment.status, payment.credits, payment.credits_clawed_back) == (
        "refunded",
        D(100),
        D(100),
    )
    assert grants_with_key(f"stripe:checkout:{session['id']}") == 1
    assert ledger.balance(user).balance == 0


def test_refunding_a_subscription_invoice_takes_back_that_periods_credits(
    client: Client, fake: FakeStripe, subscribed: dict[str, Any], user: Any
) -> None:
    invoice = fake.invoice(subscribed)
    deliver(client, fake.event("invoice.paid", invoice))
    ledger.grant(user, 10, source="promotion", expires_at=None)

    deliver(client, refund_event(fake, invoice["_charge"]))

    payment = Payment.objects.get()
    assert payment.payment_intent_id == fake.store["charges"][invoice["_charge"]]["payment_intent"]
    assert (payment.status, payment.credits_clawed_back) == ("refunded", D(50))
    assert ledger.balance(user).balance == D(10)


def test_a_refund_of_a_charge_that_paid_for_nothing_of_ours_is_ignored(
    client: Client, fake: FakeStripe, user: Any
) -> None:
    intent = fake.add("payment_intents", {"object": "payment_intent"})
    charge = fake.add(
        "charges",
        {
            "object": "charge",
            "amount": 500,
            "amount_refunded": 0,
            "currency": "usd",
            "payment_intent": intent["id"],
            "refunded": False,
        },
    )

    deliver(client, refund_event(fake, charge["id"]))

    assert last_event().status == EventStatus.IGNORED
    assert Refund.objects.count() == 0


def test_a_paid_checkout_through_the_webhook_is_in_the_audit_log(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    from quickscale.audit.models import AuditEvent

    session = fake.paid_session(fake.customer(user), shop.pack, user=user)

    deliver(client, fake.event("checkout.session.completed", session))

    payment = Payment.objects.get()
    events = AuditEvent.objects.filter(action__startswith="billing.")
    recorded = events.get(target_type="quickscale_billing.payment")
    assert recorded.target_id == str(payment.pk)
    assert recorded.action == "billing.payment.succeeded"
    assert (recorded.actor_type, recorded.actor_id) == ("user", str(user.pk))  # the customer
    assert recorded.metadata["credits"] == "100.00"
    assert recorded.metadata["checkout_session"] == session["id"]
    granted = AuditEvent.objects.get(action="credits.granted")
    assert payment.grant_entry is not None
    assert (granted.target_type, granted.target_id) == (
        "quickscale_credits.creditaccount",
        str(payment.grant_entry.account_id),
    )
    assert granted.metadata["entry"] == payment.grant_entry_id
