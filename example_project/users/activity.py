"""The ledger's entries in people's words, for the overview and the activity page.

The ledger records what changed (a grant, a debit, a hold...) but not what it paid for: the
services framework links a run to its entries the other way round, through the run's ``charge``
and ``hold``. So a page of entries finds the runs behind it in one query (and the grants in
another), never one query per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from quickscale.credits.models import CreditGrant, CreditTransaction, TransactionKind
from quickscale.services.models import ServiceRun


def grant_source(source: str) -> str:
    """What a source of credits is called on the account's pages (in the request's language,
    so looked up at call time)."""
    return {
        "purchase": _("Credits bought"),
        "subscription": _("Credits of your plan"),
        "promotion": _("Promotional credits"),
        "admin": _("Credits added by our team"),
        "refund": _("Credits given back"),
    }.get(source, source)


@dataclass(frozen=True)
class Line:
    """One entry as a row of the activity table."""

    entry: CreditTransaction
    #: What happened: "Run of Text statistics", "Credits bought".
    text: str
    #: More about it when there is more to say (what was bought, why credits were removed).
    detail: str = ""
    #: The run the entry paid for, given back or reserved credits for.
    run: ServiceRun | None = None

    @property
    def reserved(self) -> Decimal:
        """Credits this entry set aside for running work without changing the balance."""
        if self.entry.amount:
            return Decimal(0)
        return max(self.entry.held_delta, Decimal(0))

    @property
    def released(self) -> Decimal:
        """Credits set aside before that this entry let go without charging them."""
        if self.entry.amount:
            return Decimal(0)
        return max(-self.entry.held_delta, Decimal(0))


def describe(owner: Any, entries: Sequence[CreditTransaction]) -> list[Line]:
    """Each entry of ``owner``'s statement, in words."""
    charges = {e.pk for e in entries if e.kind in (TransactionKind.DEBIT, TransactionKind.CAPTURE)}
    charges |= {e.refund_of_id for e in entries if e.refund_of_id is not None}
    holds = {e.hold_id for e in entries if e.hold_id is not None}
    by_charge: dict[int, ServiceRun] = {}
    by_hold: dict[int, ServiceRun] = {}
    if charges or holds:
        runs = ServiceRun.objects.filter(user=owner).filter(
            Q(charge_id__in=charges) | Q(hold_id__in=holds)
        )
        for run in runs.select_related("service"):
            if run.charge_id is not None:
                by_charge[run.charge_id] = run
            if run.hold_id is not None:
                by_hold[run.hold_id] = run
    grant_ids = [e.grant_id for e in entries if e.grant_id is not None]
    sources = dict(CreditGrant.objects.filter(pk__in=grant_ids).values_list("pk", "source"))
    return [_line(entry, by_charge, by_hold, sources) for entry in entries]


def _line(
    entry: CreditTransaction,
    by_charge: dict[int, ServiceRun],
    by_hold: dict[int, ServiceRun],
    sources: dict[int, str],
) -> Line:
    kind = entry.kind
    run = by_charge.get(entry.pk) or (by_hold.get(entry.hold_id) if entry.hold_id else None)
    name = run.service.name if run is not None else ""
    if kind == TransactionKind.GRANT:
        source = sources.get(entry.grant_id or 0, "")
        return Line(entry, grant_source(source), entry.reason)
    if kind in (TransactionKind.DEBIT, TransactionKind.CAPTURE):
        if run is None:
            return Line(entry, _("Charge"), entry.reason)
        return Line(entry, _("Run of %(service)s") % {"service": name}, run=run)
    if kind == TransactionKind.HOLD:
        if run is None:
            return Line(entry, _("Credits reserved"), entry.reason)
        return Line(entry, _("Reserved for a run of %(service)s") % {"service": name}, run=run)
    if kind == TransactionKind.RELEASE:
        if run is None:
            return Line(entry, _("Reserved credits released"), entry.reason)
        return Line(
            entry,
            _("Run of %(service)s failed: reserved credits given back") % {"service": name},
            run=run,
        )
    if kind == TransactionKind.REFUND:
        refunded = by_charge.get(entry.refund_of_id or 0)
        if refunded is None:
            return Line(entry, _("Refund"), entry.reason)
        text = _("Refund of a run of %(service)s") % {"service": refunded.service.name}
        return Line(entry, text, entry.reason, run=refunded)
    if kind == TransactionKind.EXPIRE:
        return Line(entry, _("Credits expired"))
    if kind == TransactionKind.ADJUSTMENT:
        if "revoke" in entry.metadata:
            return Line(entry, _("Credits taken back: the payment for them was refunded"))
        if entry.amount >= 0:
            return Line(entry, _("Credits added by our team"), entry.reason)
        return Line(entry, _("Credits removed"), entry.reason)
    return Line(entry, kind.capitalize(), entry.reason)
