"""The demo's data: a staff member, a customer with a month of history, a few other customers.

Everything is made by the same public operations the site uses, through the payment sandbox
for the purchases, with the clock set back: :func:`seed` moves ``django.utils.timezone.now``
(the one clock of the suite) day by day over the last 30 days, so ledger entries, grants and
their expiry, runs, payments and subscriptions carry the dates they would have had. Stripe's
webhook signatures still use the real time, as the endpoint checks them against it.

Seeding happens once: when the demo customer exists, :func:`seed` changes nothing.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from quickscale.apikeys import keys
from quickscale.apikeys.models import APIKey
from quickscale.billing import checkout, refunds
from quickscale.billing.checkout import set_cancel_at_period_end
from quickscale.billing.models import Payment, Price
from quickscale.billing.sandbox import advance_period
from quickscale.billing.sandbox import is_active as sandbox_active
from quickscale.billing.sandbox.actions import complete_checkout
from quickscale.core.context import context
from quickscale.credits import ledger
from quickscale.services.execution import execute

STAFF_EMAIL = "staff@example.com"
CUSTOMER_EMAIL = "customer@example.com"
#: Both log-ins share one password, printed by ``manage.py demo``.
PASSWORD = "quickscale-demo"  # noqa: S105 (a demo's log-in, printed on purpose)
#: Other customers, for the staff's lists and charts: (email, days ago they signed up).
OTHER_CUSTOMERS = [
    ("ada@example.com", 27),
    ("grace@example.com", 19),
    ("linus@example.com", 11),
    ("margaret@example.com", 4),
]
DAYS = 30
#: The customer's API key, made last: its existence marks the demo data complete.
KEY_NAME = "Demo key"
#: The customer's runs: what they sent to each service, picked from at random each day.
SAMPLE_TEXTS = [
    "The new release is fast and reliable. Setup was simple and the docs are excellent.",
    "Support never answered and the export failed twice. Very disappointing.",
    "Quarterly report: revenue grew 12 percent while costs stayed flat across regions.",
    "I love how easy the API is, but the dashboard is a little slow on big accounts.",
    "Meeting notes. Decide the pricing of credit packs; review the onboarding emails.",
]
SERVICE_INPUTS: dict[str, Any] = {
    "text-statistics": lambda text: {"text": text},
    "sentiment": lambda text: {"text": text},
    "keyword-extraction": lambda text: {"text": text, "count": 5},
}
#: Background reports: (day, title, text); the last has no words, so it fails, uncharged.
REPORTS = [
    (9, "Customer feedback, week 45", SAMPLE_TEXTS[0] + " " + SAMPLE_TEXTS[1]),
    (21, "Quarterly report", SAMPLE_TEXTS[2]),
    (24, "Scanned page", "— … — !!! ???"),
]


@dataclass(frozen=True)
class Seeded:
    """What :func:`seed` made that is shown only once: the API key's token."""

    api_key: str


@contextmanager
def clock_at(moment: datetime, actor: Any = None) -> Iterator[None]:
    """Run the block as if it were ``moment`` (``timezone.now()`` returns it), done by
    ``actor`` (a user; the audit log records them as a request would)."""
    with mock.patch("django.utils.timezone.now", return_value=moment), context(actor=actor):
        yield


def seed() -> Seeded | None:
    """Make the demo data unless it exists; ``None`` when it did. Raises ``CommandError`` for
    data a run that stopped half-way left (the customer exists, their key does not)."""
    users = get_user_model()._default_manager
    customer = users.filter(email=CUSTOMER_EMAIL).first()
    if customer is not None:
        if APIKey.objects.filter(owner=customer, name=KEY_NAME).exists():
            return None
        raise CommandError(
            "The demo data is incomplete: an earlier run stopped half-way. Start again on an "
            "empty database (delete example_project/db.sqlite3, or the DATABASE_URL database)."
        )
    rng = random.Random(2026)  # noqa: S311 (the same history on every fresh database)
    start = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(DAYS)

    def day(n: int, hour: int = 0) -> datetime:
        return start + timedelta(days=n, hours=hour)

    with clock_at(day(0)):
        staff = _person(STAFF_EMAIL, superuser=True)
        customer = _person(CUSTOMER_EMAIL, first_name="Casey", last_name="Customer")
    with clock_at(day(0), staff):
        ledger.grant(
            customer,
            25,
            source="promotion",
            expires_at=day(0) + timedelta(days=60),
            reason="Welcome credits",
            actor=staff,
        )
    buying = sandbox_active()
    if buying:
        with clock_at(day(2), customer):
            _buy(customer, "Basic plan")
    for email, ago in OTHER_CUSTOMERS:
        with clock_at(day(DAYS - ago, 3), staff):
            other = _person(email)
            ledger.grant(other, 10, source="promotion", reason="Welcome credits", actor=staff)
        if buying and ago > 10:
            with clock_at(day(DAYS - ago + 1, 5), other):
                _buy(other, "Starter pack" if ago < 20 else "Pro plan")
    if buying:
        # One customer leaves: their plan is cancelled, then ends with its period.
        ada = users.get(email=OTHER_CUSTOMERS[0][0])
        with clock_at(day(20, 8), ada):
            subscription = set_cancel_at_period_end(ada, True)
        with clock_at(day(28, 8)):
            advance_period(subscription)
            _process_tasks()
        with clock_at(day(12, 4), customer):
            _buy(customer, "Starter pack")
        with clock_at(day(26, 6), customer):
            growth = _buy(customer, "Growth pack")
        with clock_at(day(27, 2), staff):
            refunds.refund(
                growth,
                growth.amount // 5,
                actor=staff,
                reason="Bought by mistake; a fifth refunded",
                idempotency_key="demo-refund-growth",
            )
            _process_tasks()
    for n in range(DAYS):
        for run in range(rng.randint(1, 4)):
            slug = rng.choice(list(SERVICE_INPUTS))
            with clock_at(day(n, 1 + run * 2), customer):
                execute(customer, slug, SERVICE_INPUTS[slug](rng.choice(SAMPLE_TEXTS)))
    for n, title, text in REPORTS:
        with clock_at(day(n, 11), customer):
            execute(customer, "document-report", {"title": title, "text": text})
            _process_tasks()
    # Last: the key marks the data complete (see seed()).
    _, token = keys.create_key(
        customer,
        KEY_NAME,
        scopes=["credits:read", "services:read", "services:write", "runs:read", "usage:read"],
    )
    call_command("audit", "seal", stdout=io.StringIO(), stderr=io.StringIO())
    return Seeded(api_key=token)


def _person(email: str, *, superuser: bool = False, **names: str) -> Any:
    users = get_user_model()._default_manager
    # The field's default is the clock function itself, which the moved clock does not reach.
    fields: dict[str, Any] = {"date_joined": timezone.now(), **names}
    if superuser:
        user = users.create_superuser(email, PASSWORD, **fields)
    else:
        user = users.create_user(email, PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def _buy(user: Any, product: str) -> Payment:
    """Buy the demo catalog's ``product`` as ``user`` through the sandbox's checkout, as the
    pages do, and process the webhook it delivers."""
    price = Price.objects.on_sale().get(product__name=product)
    url = checkout.start_checkout(
        user,
        price.stripe_id,
        success_url=reverse("quickscale_billing:checkout_success"),
        cancel_url=reverse("quickscale_billing:checkout_canceled"),
    )
    session_id = url.rstrip("/").rsplit("/", 1)[-1]
    complete_checkout(user, session_id, paid=True)
    _process_tasks()
    return Payment.objects.filter(user=user).order_by("-pk").first() or Payment()


def _process_tasks() -> None:
    """Run what the webhook and async services queued, now, under the moved clock."""
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)


def credits_left(user: Any) -> Decimal:
    return ledger.balance(user).available
