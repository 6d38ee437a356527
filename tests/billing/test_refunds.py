"""Refunds started by staff: made by Stripe (here the payment sandbox), the credits taken back
when Stripe's charge.refunded arrives, once however often the form is submitted, and the staff
member who asked recorded in the audit log."""

from __future__ import annotations

import re
from decimal import Decimal as D
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from quickscale.audit.models import AuditEvent
from quickscale.billing.exceptions import RefundRefused, StripeUnavailable
from quickscale.billing.models import (
    EventStatus,
    Payment,
    PaymentStatus,
    Refund,
    Subscription,
    WebhookEvent,
)
from quickscale.billing.refunds import refund
from quickscale.billing.sandbox.actions import account
from quickscale.credits import ledger
from tests.billing.conftest import SandboxShop, Shop, deliver
from tests.billing.fake_stripe import FakeStripe

TOKEN = "a-form-token-of-the-refund-page"


def buy(client: Client, user: Any, price_id: str) -> Payment:
    client.force_login(user)
    page = client.post(reverse("quickscale_billing:checkout"), {"price": price_id}).url
    client.post(page, {"action": "pay"})
    client.logout()
    return Payment.objects.get(user=user)


@pytest.fixture
def paid(client: Client, user: Any, sandbox: SandboxShop) -> Payment:
    """A pack of 100 credits bought for 10.00 USD in the sandbox."""
    return buy(client, user, sandbox.pack)


def refund_url(payment: Payment) -> str:
    return reverse("admin:quickscale_billing_payment_refund", args=[payment.pk])


def submit(client: Client, payment: Payment, amount: str = "", token: str = TOKEN) -> Any:
    return client.post(
        refund_url(payment), {"amount": amount, "reason": "Asked by the customer", "token": token}
    )


def test_the_payment_page_offers_a_refund(admin_client: Client, paid: Payment) -> None:
    change = admin_client.get(reverse("admin:quickscale_billing_payment_change", args=[paid.pk]))
    page = admin_client.get(refund_url(paid))

    assert refund_url(paid) in change.content.decode()
    assert page.status_code == 200
    assert "Left to refund" in page.content.decode() and "10.00 USD" in page.content.decode()


def test_a_full_refund_takes_the_credits_back_through_charge_refunded(
    admin_client: Client, paid: Payment, user: Any
) -> None:
    response = submit(admin_client, paid)

    assert response.status_code == 302
    [made] = Refund.objects.all()
    assert made.amount == 1000 and made.credits_clawed_back == D(100)
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.REFUNDED and paid.amount_refunded == 1000
    assert ledger.balance(user).balance == 0
    [event] = WebhookEvent.objects.filter(type="charge.refunded")
    assert event.status == EventStatus.PROCESSED
    assert AuditEvent.objects.filter(action="billing.refund.recorded").count() == 1


def test_a_full_refund_submitted_twice_with_the_same_token_is_made_once(
    admin_client: Client, paid: Payment, user: Any
) -> None:
    submit(admin_client, paid)

    again = submit(admin_client, paid)

    assert again.status_code == 200
    assert "refunded in full already" in again.content.decode()
    assert Refund.objects.count() == 1
    assert len(account().store.objects("refunds")) == 1
    assert ledger.balance(user).balance == 0


def test_a_partial_refund_submitted_twice_with_the_same_token_is_made_once(
    admin_client: Client, paid: Payment, user: Any
) -> None:
    first = submit(admin_client, paid, "3.00")
    second = submit(admin_client, paid, "3.00")

    assert first.status_code == second.status_code == 302
    [made] = Refund.objects.all()
    assert made.amount == 300 and made.credits_clawed_back == D(30)
    assert len(account().store.objects("refunds")) == 1
    assert ledger.balance(user).balance == D(70)
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.PARTIALLY_REFUNDED
    assert AuditEvent.objects.filter(action="billing.refund.requested").count() == 1


def test_a_refund_over_the_refundable_amount_is_refused_naming_it(
    admin_client: Client, paid: Payment, user: Any
) -> None:
    submit(admin_client, paid, "4.00", token="the-first-refund-token")

    response = submit(admin_client, paid, "6.01")

    body = response.content.decode()
    assert response.status_code == 200
    assert "6.01 USD" in body and re.search(r"at most\s+6\.00 USD", body)
    assert Refund.objects.count() == 1
    assert len(account().store.objects("refunds")) == 1
    assert ledger.balance(user).balance == D(60)


def test_the_refund_request_records_the_staff_member_in_the_audit_log(
    admin_client: Client, admin_user: Any, paid: Payment
) -> None:
    submit(admin_client, paid, "2.50")

    requested = AuditEvent.objects.get(action="billing.refund.requested")

    assert (requested.actor_type, requested.actor_id) == ("user", str(admin_user.pk))
    assert requested.metadata["reason"] == "Asked by the customer"
    assert requested.metadata["amount"] == "250"


def test_staff_without_the_change_permission_cannot_refund(
    client: Client, paid: Payment, make_user: Any
) -> None:
    client.force_login(make_user(is_staff=True))

    assert client.get(refund_url(paid)).status_code == 403
    assert submit(client, paid).status_code == 403
    assert not Refund.objects.exists()


def test_a_subscription_payment_is_refunded_through_its_invoice(
    client: Client, user: Any, sandbox: SandboxShop, admin_user: Any
) -> None:
    payment = buy(client, user, sandbox.basic)
    assert Subscription.objects.get().is_live

    made = refund(payment, 450, actor=admin_user, reason="Half a month")

    assert made.amount == 450
    assert Refund.objects.get().credits_clawed_back == D(25)
    assert ledger.balance(user).balance == D(25)


# -- refused before Stripe is asked -----------------------------------------------------------


def test_a_failed_payment_cannot_be_refunded(
    client: Client, user: Any, sandbox: SandboxShop
) -> None:
    client.force_login(user)
    page = client.post(reverse("quickscale_billing:checkout"), {"price": sandbox.pack}).url
    client.post(page, {"action": "decline"})
    failed = Payment.objects.get()

    with pytest.raises(RefundRefused) as refused:
        refund(failed)

    assert refused.value.code == "refund_not_refundable"
    assert "not paid" in refused.value.message
    assert account().store.objects("refunds") == []


@pytest.mark.parametrize("amount", [0, -100, 1001])
def test_an_amount_out_of_range_is_refused_and_changes_nothing(paid: Payment, amount: int) -> None:
    with pytest.raises(RefundRefused) as refused:
        refund(paid, amount)

    assert refused.value.code == "refund_amount_invalid"
    assert "at most 10.00 USD" in refused.value.message
    assert account().store.objects("refunds") == []


@pytest.mark.django_db
def test_a_stripe_failure_is_stripe_unavailable_and_changes_nothing(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    deliver(client, fake.event("checkout.session.completed", session))
    fake.failing.add("refunds")

    with pytest.raises(StripeUnavailable):
        refund(Payment.objects.get(), 500)

    assert fake.store["refunds"] == {}
    assert not AuditEvent.objects.filter(action="billing.refund.requested").exists()
