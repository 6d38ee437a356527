"""The credit ledger's tables.

``CreditAccount`` stores the balance so reading it is one row; every change to it is made in
the same transaction as the append-only ``CreditTransaction`` that explains it. Credits live in
``CreditGrant`` buckets that are consumed in order and may expire; a ``CreditHold`` reserves
credits taken from grants until it is captured or released. Only ``quickscale.credits.ledger``
writes these tables.

Every model names its ``app_label`` so that apps depending on this one can import it even when
``quickscale.credits`` is missing from ``INSTALLED_APPS``: their system check ``E001`` then
reports the missing app instead of an ImportError.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from quickscale.credits.amounts import MAX_DIGITS, STORED_PLACES, display


def money(**kwargs: object) -> models.DecimalField:  # type: ignore[type-arg]
    """A column for an amount of credits: ``MAX_DIGITS`` digits, ``STORED_PLACES`` of them
    decimal places, whatever ``DECIMAL_PLACES`` is set to."""
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=STORED_PLACES, **kwargs)  # type: ignore[arg-type]


class CreditAccount(models.Model):
    """A user's credits: the balance, the part of it holds reserve, and what debits spent that
    is not yet taken from grants. Each change is made with the ``CreditTransaction`` that
    explains it."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credit_account",
        verbose_name=_("owner"),
    )
    balance = money(default=0, verbose_name=_("balance"))
    held = money(default=0, verbose_name=_("held"))
    #: Credits spent by debits that are not yet taken from grants. A debit only needs the
    #: account row while no grant is about to expire; the next write that needs exact grant
    #: remainders takes this amount from the grants first, in consumption order.
    unallocated = money(default=0, verbose_name=_("unallocated"))
    #: The earliest expiry among grants with credits left (or earlier). Debits skip the grants
    #: only before it.
    next_expiry = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "quickscale_credits"
        verbose_name = _("credit account")
        verbose_name_plural = _("credit accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="quickscale_credits_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(held__gte=0) & Q(held__lte=F("balance")),
                name="quickscale_credits_held_within_balance",
            ),
            models.CheckConstraint(
                condition=Q(unallocated__gte=0), name="quickscale_credits_unallocated_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner} ({display(self.balance)} credits)"

    @property
    def available(self) -> Decimal:
        """The credits the owner can spend: the balance less what holds reserve."""
        return self.balance - self.held


class GrantSource(models.TextChoices):
    """Where a grant's credits come from."""

    PURCHASE = "purchase"
    SUBSCRIPTION = "subscription"
    PROMOTION = "promotion"
    ADMIN = "admin"
    REFUND = "refund"


class CreditGrant(models.Model):
    """Credits from one source, spent by priority, then earliest expiry, then age; what is left
    of them expires at ``expires_at`` (``expired_at`` says when the sweep did it)."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="grants")
    source = models.CharField(max_length=20, choices=GrantSource.choices)
    amount = money()
    remaining = money()
    #: Higher priority is consumed first; then the earliest expiry, then the oldest grant.
    priority = models.SmallIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "quickscale_credits"
        verbose_name = _("credit grant")
        verbose_name_plural = _("credit grants")
        indexes = [
            # The consumption order of an account's live grants.
            models.Index(
                F("account"),
                F("priority").desc(),
                F("expires_at").asc(),  # PostgreSQL puts NULL (never expires) last
                F("id"),
                name="qs_credits_grant_order",
                condition=Q(remaining__gt=0),
            ),
            # The expiry sweep.
            models.Index(
                fields=["expires_at"],
                name="qs_credits_grant_due",
                condition=Q(remaining__gt=0, expires_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="quickscale_credits_grant_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="quickscale_credits_grant_remaining_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{display(self.amount)} {self.source} credits ({display(self.remaining)} left)"


class HoldState(models.TextChoices):
    """Where a hold stands: active (its credits reserved), captured, released, or expired
    (released by the sweep once it ran out)."""

    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


class CreditHold(models.Model):
    """Credits reserved from an account's grants until they are captured (in whole or in
    part, the rest given back) or released; the sweep releases it once ``expires_at`` has
    passed."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="holds")
    amount = money()
    captured = money(null=True, blank=True)
    state = models.CharField(max_length=10, choices=HoldState.choices, default=HoldState.ACTIVE)
    #: ``[[grant id, credits taken], ...]`` in consumption order, so settling returns them.
    allocations = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    reference = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "quickscale_credits"
        verbose_name = _("credit hold")
        verbose_name_plural = _("credit holds")
        indexes = [
            models.Index(
                fields=["expires_at"],
                name="qs_credits_hold_due",
                condition=Q(state="active"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="quickscale_credits_hold_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(captured__isnull=True)
                | (Q(captured__gte=0) & Q(captured__lte=F("amount"))),
                name="quickscale_credits_hold_captured_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"hold of {display(self.amount)} credits ({self.state})"


class TransactionKind(models.TextChoices):
    """What a ledger entry records."""

    GRANT = "grant"
    DEBIT = "debit"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    EXPIRE = "expire"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    #: Bookkeeping, not a change of balance: debits made while no grant was about to expire
    #: are taken from the grants here.
    ALLOCATION = "allocation"


class CreditTransactionQuerySet(models.QuerySet["CreditTransaction"]):
    """Queries on ledger entries, which are append-only: ``update()`` and ``delete()`` raise
    ``TypeError``."""

    def update(self, **kwargs: Any) -> int:
        raise TypeError("Credit transactions are append-only and cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Credit transactions are append-only and cannot be deleted.")


class CreditTransaction(models.Model):
    """One immutable ledger entry.

    ``amount`` is the signed change of the balance and ``held_delta`` the signed change of the
    held credits, so the stored balance always equals the sum of ``amount`` over the account's
    entries. ``allocations`` lists ``[grant id, change of its remaining credits]``.
    """

    account = models.ForeignKey(
        CreditAccount, on_delete=models.PROTECT, related_name="transactions"
    )
    kind = models.CharField(max_length=12, choices=TransactionKind.choices)
    amount = money()
    held_delta = money(default=0)
    balance_after = money()
    held_after = money(default=0)
    allocations = models.JSONField(default=list, blank=True)
    grant = models.ForeignKey(
        CreditGrant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hold = models.ForeignKey(
        CreditHold, null=True, blank=True, on_delete=models.PROTECT, related_name="transactions"
    )
    refund_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Entries are never rewritten, not even when their actor is deleted.
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # NULL, not "", for "no key": the unique constraint applies to keys only.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CreditTransactionQuerySet.as_manager()

    class Meta:
        app_label = "quickscale_credits"
        verbose_name = _("credit transaction")
        verbose_name_plural = _("credit transactions")
        indexes = [models.Index(fields=["account", "-id"], name="qs_credits_tx_statement")]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="quickscale_credits_unique_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {display(self.amount)} (balance {display(self.balance_after)})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Credit transactions are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Credit transactions are append-only and cannot be deleted.")
