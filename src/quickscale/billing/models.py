"""Billing's tables: what we know of Stripe, and what each payment did to the credits.

Stripe is the system of record for money; these rows mirror it (the catalog, customers,
subscriptions, payments and refunds) so pages and the API never wait on Stripe, and record what
the ledger did for each payment: the credits granted, taken back and not recoverable. Every row
that mirrors a Stripe object is unique by its Stripe id, which is what makes processing a
webhook twice harmless. ``WebhookEvent`` keeps every verified delivery; ``RejectedDelivery``
logs the refused ones without storing their body. ``SandboxObject`` holds the payment sandbox's
own Stripe objects (development only, see :mod:`quickscale.billing.sandbox`).

Amounts of credits are shown with :func:`~quickscale.credits.amounts.for_people` (``1,000``);
metadata and anything read back keep :func:`~quickscale.credits.amounts.display`.

Longer than 500 lines on purpose: it is billing's whole schema, one model after another with
the choices each uses, and the models refer to one another (a payment to its customer, price,
subscription and refunds). Split up, the schema would be harder to read, not easier.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from quickscale.credits.amounts import for_people
from quickscale.credits.models import money


class Customer(models.Model):
    """The Stripe customer of a user: one each, made on their first checkout."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="billing_customer",
        verbose_name=_("user"),
    )
    stripe_id = models.CharField(_("Stripe id"), max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.user})"


class Product(models.Model):
    """A Stripe product: what a pack or a plan is called."""

    stripe_id = models.CharField(_("Stripe id"), max_length=255, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    metadata = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.name


class PriceKind(models.TextChoices):
    """What a price sells: a pack of credits once, or a plan's credits each period."""

    #: A one-off price: a credit pack.
    PACK = "pack"
    #: A recurring price: a subscription plan granting credits each period.
    PLAN = "plan"


class PriceQuerySet(models.QuerySet["Price"]):
    """Queries on prices."""

    def on_sale(self) -> PriceQuerySet:
        """Prices that can be bought: active, of an active product, selling credits."""
        return self.filter(
            active=True, product__active=True, credits__gt=0, unit_amount__isnull=False
        )


class Price(models.Model):
    """A Stripe price mirrored with the credits it sells.

    ``credits`` comes from the ``credits`` metadata of the price, or else of its product: the
    credits of a pack, or those a plan grants each billing period. A price without it is kept
    (so a payment for it can be shown) but not offered.
    """

    stripe_id = models.CharField(_("Stripe id"), max_length=255, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="prices")
    kind = models.CharField(max_length=4, choices=PriceKind.choices)
    active = models.BooleanField(default=True)
    nickname = models.CharField(max_length=255, blank=True)
    lookup_key = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3)
    #: In the currency's smallest unit (cents), as Stripe counts; None for custom amounts.
    unit_amount = models.BigIntegerField(null=True, blank=True)
    #: ``day``, ``week``, ``month`` or ``year`` for a plan.
    interval = models.CharField(max_length=5, blank=True)
    interval_count = models.PositiveSmallIntegerField(null=True, blank=True)
    credits = money(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PriceQuerySet.as_manager()

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["kind", "unit_amount", "id"]

    def __str__(self) -> str:
        return f"{self.product.name}{f' ({self.nickname})' if self.nickname else ''}"

    @property
    def on_sale(self) -> bool:
        """Whether the price can be bought now (as :meth:`PriceQuerySet.on_sale` selects)."""
        return bool(
            self.active
            and self.product.active
            and self.credits
            and self.credits > 0
            and self.unit_amount is not None
        )

    @property
    def credits_display(self) -> str:
        """The credits it sells, for people (``1,000``); ``-`` when it sells none."""
        return for_people(self.credits) if self.credits is not None else "-"

    @property
    def amount_display(self) -> str:
        """The price with its currency (``19.99 USD``)."""
        return format_money(self.unit_amount, self.currency)

    @property
    def interval_display(self) -> str:
        """``"month"``, ``"3 months"``; empty for a pack."""
        if not self.interval:
            return ""
        count = self.interval_count or 1
        return self.interval if count == 1 else f"{count} {self.interval}s"


#: Currencies Stripe counts in whole units (no cents).
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)


def minor_unit_exponent(currency: str) -> int:
    """The decimal places of the currency's smallest unit: 0 for the zero-decimal ones (``jpy``),
    else 2."""
    return 0 if currency.lower() in ZERO_DECIMAL_CURRENCIES else 2


def format_money(amount: int | None, currency: str) -> str:
    """``1999, "usd"`` -> ``"19.99 USD"``."""
    if amount is None:
        return "-"
    value = Decimal(amount).scaleb(-minor_unit_exponent(currency))
    return f"{value:,.{minor_unit_exponent(currency)}f} {currency.upper()}"


class SubscriptionStatus(models.TextChoices):
    """Stripe's subscription statuses."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


#: Statuses in which the customer has the plan: one such subscription per user at most. An
#: ``incomplete`` one (its first payment never went through) does not count.
LIVE_STATUSES = (
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
)


class Subscription(models.Model):
    """A Stripe subscription as Stripe last described it.

    Its state is never taken from an event's copy: each change re-reads the subscription from
    Stripe while holding this row's lock, so concurrent or out-of-order deliveries all end with
    Stripe's latest state.
    """

    stripe_id = models.CharField(_("Stripe id"), max_length=255, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="billing_subscriptions",
        verbose_name=_("user"),
    )
    price = models.ForeignKey(
        Price, null=True, blank=True, on_delete=models.PROTECT, related_name="subscriptions"
    )
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    cancel_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    #: When the state was last read from Stripe.
    synced_at = models.DateTimeField(default=timezone.now)
    #: The ``created`` time of the newest event applied, for staff reading the history.
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        indexes = [models.Index(fields=["user", "status"], name="qs_billing_sub_user_status")]

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        """Whether the customer has the plan (see :data:`LIVE_STATUSES`)."""
        return self.status in LIVE_STATUSES


class PaymentKind(models.TextChoices):
    """What a payment paid for: a pack (a checkout session) or a subscription period (an
    invoice)."""

    PACK = "pack"
    SUBSCRIPTION = "subscription"


class PaymentStatus(models.TextChoices):
    """Where a payment stands: paid, failed, or refunded in part or in full."""

    PAID = "paid"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Payment(models.Model):
    """One payment (a checkout session for a pack, or an invoice for a subscription period) and
    what it did to the credits.

    ``grant_entry`` is the ledger entry that granted ``credits``; refunds take them back through
    ``ledger.revoke``: ``credits_clawed_back`` were removed, ``credits_shortfall`` could not be
    (they were spent already). Exactly one of ``checkout_session_id`` and ``invoice_id`` is set.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="billing_payments",
        verbose_name=_("user"),
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    kind = models.CharField(max_length=12, choices=PaymentKind.choices)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    price = models.ForeignKey(
        Price, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    # NULL, not "", for "none": the unique constraints apply to ids only.
    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    invoice_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    #: In the currency's smallest unit, as Stripe counts.
    amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    amount_refunded = models.BigIntegerField(default=0)
    credits = money(default=0)
    grant_entry = models.ForeignKey(
        "quickscale_credits.CreditTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    credits_expire_at = models.DateTimeField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    credits_clawed_back = money(default=0)
    credits_shortfall = money(default=0)
    failure_message = models.TextField(blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [models.Index(fields=["user", "-created_at"], name="qs_billing_pay_user")]
        constraints = [
            models.CheckConstraint(
                condition=Q(checkout_session_id__isnull=False, invoice_id__isnull=True)
                | Q(checkout_session_id__isnull=True, invoice_id__isnull=False),
                name="quickscale_billing_payment_one_source",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0)
                & Q(amount_refunded__gte=0)
                & Q(amount_refunded__lte=F("amount")),
                name="quickscale_billing_payment_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(credits__gte=0)
                & Q(credits_clawed_back__gte=0)
                & Q(credits_shortfall__gte=0),
                name="quickscale_billing_payment_credits_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_reference} ({self.status})"

    @property
    def stripe_reference(self) -> str:
        """The id of the checkout session or invoice the payment is for."""
        return self.checkout_session_id or self.invoice_id or ""

    @property
    def amount_display(self) -> str:
        """The amount paid with its currency."""
        return format_money(self.amount, self.currency)

    @property
    def refunded_display(self) -> str:
        """The amount refunded with its currency."""
        return format_money(self.amount_refunded, self.currency)

    @property
    def credits_display(self) -> str:
        """The credits granted, for people."""
        return for_people(self.credits)


class RefundStatus(models.TextChoices):
    """Stripe's refund statuses."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"
    CANCELED = "canceled"


class Refund(models.Model):
    """A Stripe refund of a payment, and the credits it took back.

    Unique by Stripe id: the row is written in the same transaction as the ledger entry, so a
    refund takes credits back exactly once however often its events arrive.
    """

    stripe_id = models.CharField(_("Stripe id"), max_length=255, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=RefundStatus.choices)
    #: The credits this refund pays back, in proportion to the amount refunded.
    credits = money(default=0)
    credits_clawed_back = money(default=0)
    credits_shortfall = money(default=0)
    ledger_entry = models.ForeignKey(
        "quickscale_credits.CreditTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    stripe_created = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")

    def __str__(self) -> str:
        return f"{self.stripe_id} ({format_money(self.amount, self.currency)})"

    @property
    def amount_display(self) -> str:
        """The amount refunded with its currency."""
        return format_money(self.amount, self.currency)

    @property
    def clawed_back_display(self) -> str:
        """The credits taken back, for people."""
        return for_people(self.credits_clawed_back)

    @property
    def shortfall_display(self) -> str:
        """The credits that could not be taken back (spent already), for people."""
        return for_people(self.credits_shortfall)


class EventStatus(models.TextChoices):
    """Where a stored event stands in its processing."""

    #: Stored, waiting for its task.
    PENDING = "pending"
    PROCESSED = "processed"
    #: Verified and stored, but nothing to do (e.g. a checkout that is not paid yet).
    IGNORED = "ignored"
    #: The handler raised; ``error`` says why. ``manage.py billing replay`` runs it again.
    FAILED = "failed"


class WebhookEvent(models.Model):
    """A verified Stripe event, stored once per Stripe event id before any processing.

    Every delivery inserts a row, so the table keeps few indexes: the unique event id (as a
    constraint, without the pattern index PostgreSQL adds for ``unique=True``), the object id
    (what staff search), and the time of the events not finished yet (what reconcile reads).
    """

    stripe_id = models.CharField(_("Stripe event id"), max_length=255)
    type = models.CharField(max_length=100)
    #: The id of ``data.object`` (a session, an invoice, a subscription...).
    object_id = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=50, blank=True)
    payload = models.JSONField()
    #: When Stripe created the event.
    created = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    #: Why the last attempt failed (the exception), for staff and ``billing replay``.
    error = models.TextField(blank=True)
    #: What processing did, or why there was nothing to do.
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [
            models.UniqueConstraint(fields=["stripe_id"], name="quickscale_billing_event_unique")
        ]
        indexes = [
            models.Index(fields=["object_id"], name="qs_billing_event_object"),
            models.Index(
                fields=["received_at"],
                name="qs_billing_event_unfinished",
                condition=Q(status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} {self.type} ({self.status})"

    @property
    def data_object(self) -> dict[str, Any]:
        """The event's ``data.object``: the Stripe object it is about, as it was sent."""
        data: dict[str, Any] = self.payload.get("data", {}).get("object", {})
        return data


class RejectReason(models.TextChoices):
    """Why a webhook delivery was refused."""

    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED_TIMESTAMP = "expired_timestamp"
    MALFORMED = "malformed"


class RejectedDelivery(models.Model):
    """A webhook delivery refused with 400. The body is not kept (it is unverified): only its
    digest and size, with the sender's address and a few headers, to trace a misconfiguration
    or an attack."""

    reason = models.CharField(max_length=20, choices=RejectReason.choices)
    detail = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body_sha256 = models.CharField(max_length=64)
    body_size = models.PositiveIntegerField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("rejected delivery")
        verbose_name_plural = _("rejected deliveries")

    def __str__(self) -> str:
        return f"{self.reason} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class SandboxObject(models.Model):
    """A Stripe object of the payment sandbox (customers, sessions, subscriptions, events...),
    as the Stripe API would return it. Written only by the sandbox, in development, so its
    state survives restarts and is shared by every process of the site."""

    stripe_id = models.CharField(_("Stripe id"), max_length=255, unique=True)
    #: The API path of its collection: ``customers``, ``checkout/sessions``...
    collection = models.CharField(max_length=40, db_index=True)
    data = models.JSONField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sandbox object")
        verbose_name_plural = _("sandbox objects")

    def __str__(self) -> str:
        return f"{self.collection} {self.stripe_id}"
