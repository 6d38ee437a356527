"""The numbers behind the staff dashboard: this month's totals and day-by-day series.

Every function runs a fixed number of aggregate queries, whatever the number of users, runs,
ledger entries or payments: the database sums and counts, Python only lays the results out on
the calendar. Series cover whole days in the current time zone, and every day of the range is
present, with zeros where nothing happened, so a chart, its table and its CSV file always have
the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from quickscale.billing.models import (
    LIVE_STATUSES,
    Payment,
    PaymentStatus,
    Price,
    Refund,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
    format_money,
    minor_unit_exponent,
)
from quickscale.credits.amounts import quantize
from quickscale.credits.models import CreditAccount, CreditTransaction, TransactionKind
from quickscale.services.models import RunStatus, Service, ServiceRun

#: The days of every series.
DAYS = 30
ZERO = Decimal(0)
#: Refunds whose money goes (or went) back to the customer: they lower the revenue.
COUNTED_REFUNDS = (RefundStatus.SUCCEEDED, RefundStatus.PENDING)
#: Ledger entries that add credits (an adjustment adds when its amount is positive).
GRANTING = (TransactionKind.GRANT, TransactionKind.ADJUSTMENT)
#: Ledger entries that pay for work.
SPENDING = (TransactionKind.DEBIT, TransactionKind.CAPTURE)
#: Subscriptions whose first payment never went through were never subscribers.
NEVER_STARTED = (SubscriptionStatus.INCOMPLETE, SubscriptionStatus.INCOMPLETE_EXPIRED)


def start_of(day: date) -> datetime:
    """The first moment of ``day`` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Window:
    """Consecutive days, the last one today."""

    days: list[date]

    @classmethod
    def last(cls, count: int = DAYS) -> Window:
        today = timezone.localdate()
        return cls([today - timedelta(days=count - 1 - i) for i in range(count)])

    @property
    def start(self) -> datetime:
        return start_of(self.days[0])

    @property
    def end(self) -> datetime:
        """The first moment after the window."""
        return start_of(self.days[-1] + timedelta(days=1))

    def spread(self, rows: Iterable[tuple[date, Decimal | int]]) -> list[Decimal]:
        """``(day, value)`` pairs laid out on the window's days, zeros where none."""
        by_day: dict[date, Decimal] = defaultdict(lambda: ZERO)
        for day, value in rows:
            by_day[day] += Decimal(value or 0)
        return [by_day[day] for day in self.days]


def month_start() -> datetime:
    """The first moment of the current month in the current time zone."""
    return start_of(timezone.localdate().replace(day=1))


def _daily(queryset: QuerySet, field: str) -> QuerySet:  # type: ignore[type-arg]
    return queryset.annotate(day=TruncDate(field)).values("day")


# -- this month ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    """An amount in a currency's smallest unit, as Stripe counts."""

    minor: int
    currency: str

    @property
    def value(self) -> Decimal:
        """In the currency's main unit: 1999 cents are 19.99."""
        return Decimal(self.minor).scaleb(-minor_unit_exponent(self.currency))

    def __str__(self) -> str:
        return format_money(self.minor, self.currency)


def revenue(since: datetime) -> list[Money]:
    """Paid payments since ``since`` minus the refunds made since then, per currency."""
    totals: dict[str, int] = defaultdict(int)
    paid = (
        Payment.objects.filter(paid_at__gte=since)
        .exclude(status=PaymentStatus.FAILED)
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    for row in paid:
        totals[row["currency"]] += row["total"] or 0
    refunded = (
        Refund.objects.filter(stripe_created__gte=since, status__in=COUNTED_REFUNDS)
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    for row in refunded:
        totals[row["currency"]] -= row["total"] or 0
    return [Money(totals[currency], currency) for currency in sorted(totals) if currency]


def active_subscribers() -> int:
    """People with a plan now (one live subscription each at most)."""
    return Subscription.objects.filter(status__in=LIVE_STATUSES).values("user").distinct().count()


@dataclass(frozen=True)
class CreditTotals:
    granted: Decimal
    spent: Decimal
    outstanding: Decimal


def credit_totals(since: datetime) -> CreditTotals:
    """Credits granted and spent since ``since``, and those held by everyone now (the sum of
    the stored balances: one row per account, never the ledger's history)."""
    moved = CreditTransaction.objects.filter(created_at__gte=since).aggregate(
        granted=Sum("amount", filter=Q(kind__in=GRANTING, amount__gt=0)),
        spent=Sum("amount", filter=Q(kind__in=SPENDING)),
    )
    outstanding = CreditAccount.objects.aggregate(total=Sum("balance"))["total"]
    return CreditTotals(
        granted=quantize(moved["granted"] or ZERO),
        spent=quantize(-(moved["spent"] or ZERO)),
        outstanding=quantize(outstanding or ZERO),
    )


@dataclass(frozen=True)
class RunTotals:
    runs: int
    failed: int

    @property
    def failure_rate(self) -> Decimal | None:
        """The failed share of the runs, as a percentage; ``None`` without runs."""
        if not self.runs:
            return None
        return (Decimal(self.failed) * 100 / self.runs).quantize(Decimal("0.1"))


def run_totals(since: datetime) -> RunTotals:
    row = ServiceRun.objects.filter(created_at__gte=since).aggregate(
        runs=Count("id"), failed=Count("id", filter=Q(status=RunStatus.FAILED))
    )
    return RunTotals(row["runs"], row["failed"])


def sign_ups(since: datetime) -> int:
    return get_user_model()._default_manager.filter(date_joined__gte=since).count()


# -- per service -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceStats:
    runs: int
    failed: int

    @property
    def failure_rate(self) -> Decimal | None:
        return RunTotals(self.runs, self.failed).failure_rate


def services_with_stats(since: datetime) -> list[tuple[Service, ServiceStats]]:
    """The catalog by name, each service with its runs since ``since``: one query."""
    rows = Service.objects.annotate(
        recent_runs=Count("runs", filter=Q(runs__created_at__gte=since)),
        recent_failed=Count(
            "runs", filter=Q(runs__created_at__gte=since, runs__status=RunStatus.FAILED)
        ),
    ).order_by("name")
    return [(row, ServiceStats(row.recent_runs, row.recent_failed)) for row in rows]


# -- series ----------------------------------------------------------------------------------


def _per_service(window: Window, total: Count | Sum, **filters: object) -> dict[str, list[Decimal]]:
    """``total`` of the runs of each day, per catalog service (zeros included, so every
    service has its column)."""
    rows = (
        _daily(
            ServiceRun.objects.filter(
                created_at__gte=window.start, created_at__lt=window.end, **filters
            ),
            "created_at",
        )
        .values("day", "service__name")
        .annotate(total=total)
        .order_by()
    )
    found: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for row in rows:
        found[row["service__name"]].append((row["day"], row["total"]))
    names = set(found) | set(Service.objects.filter(registered=True).values_list("name", flat=True))
    return {name: window.spread(found.get(name, [])) for name in sorted(names)}


def runs_per_service(window: Window) -> dict[str, list[Decimal]]:
    return _per_service(window, Count("id"))


def credits_spent_per_service(window: Window) -> dict[str, list[Decimal]]:
    """What the runs charged, by the day they started (a failed run charges nothing)."""
    series = _per_service(window, Sum("cost"), status=RunStatus.SUCCEEDED)
    return {name: [quantize(value) for value in values] for name, values in series.items()}


def currencies() -> list[str]:
    """The currencies of the catalog and of the payments, for one revenue chart each."""
    found = set(Price.objects.values_list("currency", flat=True).distinct())
    found |= set(Payment.objects.values_list("currency", flat=True).distinct())
    return sorted(currency.lower() for currency in found if currency)


def revenue_per_day(window: Window, currency: str) -> list[Decimal]:
    """Payments paid each day minus refunds made that day, in the currency's main unit."""
    paid = (
        _daily(
            Payment.objects.filter(
                paid_at__gte=window.start, paid_at__lt=window.end, currency__iexact=currency
            ).exclude(status=PaymentStatus.FAILED),
            "paid_at",
        )
        .annotate(total=Sum("amount"))
        .order_by()
    )
    refunded = (
        _daily(
            Refund.objects.filter(
                stripe_created__gte=window.start,
                stripe_created__lt=window.end,
                currency__iexact=currency,
                status__in=COUNTED_REFUNDS,
            ),
            "stripe_created",
        )
        .annotate(total=Sum("amount"))
        .order_by()
    )
    rows = [(row["day"], row["total"]) for row in paid]
    rows += [(row["day"], -row["total"]) for row in refunded]
    return [Money(int(minor), currency).value for minor in window.spread(rows)]


def _subscriptions() -> QuerySet[Subscription]:
    return Subscription.objects.exclude(status__in=NEVER_STARTED)


def subscribers_per_day(window: Window) -> list[int]:
    """Subscriptions running at the end of each day: those started before the window and not
    ended by its start, plus each day's starts, minus each day's ends."""
    before = (
        _subscriptions()
        .filter(created_at__lt=window.start)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=window.start))
        .count()
    )
    starts = window.spread(
        (row["day"], row["n"])
        for row in _daily(
            _subscriptions().filter(created_at__gte=window.start, created_at__lt=window.end),
            "created_at",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    ends = churn_per_day(window)
    running, values = before, []
    for started, ended in zip(starts, ends, strict=True):
        running += int(started) - ended
        values.append(running)
    return values


def churn_per_day(window: Window) -> list[int]:
    """Subscriptions that ended each day (canceled for good, not merely set to cancel)."""
    rows = (
        _daily(
            _subscriptions().filter(ended_at__gte=window.start, ended_at__lt=window.end),
            "ended_at",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    return [int(value) for value in window.spread((row["day"], row["n"]) for row in rows)]


def outstanding_per_day(window: Window) -> list[Decimal]:
    """Credits held by everyone at the end of each day.

    A stored balance is the running total of its account's entries, so the sum of every
    balance at a moment is the sum of every entry's amount up to it: one aggregate for the
    days before the window, one per-day sum inside it, then a running total.
    """
    entries = CreditTransaction.objects.exclude(kind=TransactionKind.ALLOCATION)
    running = entries.filter(created_at__lt=window.start).aggregate(total=Sum("amount"))["total"]
    running = running or ZERO
    daily = window.spread(
        (row["day"], row["total"])
        for row in _daily(
            entries.filter(created_at__gte=window.start, created_at__lt=window.end), "created_at"
        )
        .annotate(total=Sum("amount"))
        .order_by()
    )
    values = []
    for change in daily:
        running += change
        values.append(quantize(running))
    return values
