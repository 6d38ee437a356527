"""The harness's eyes inside the example project: seeding, and the facts the checks judge.

It runs in a ``manage.py shell`` beside the site, connected to PostgreSQL directly (never
through the pooler under test): :func:`serve` answers one JSON request per line of standard
input with one line ``FAULTS <json>`` on standard output. Every request starts on a fresh
database connection, so the probe outlives the restarts it watches.

What it reports is raw: counts, sums and lists. Judging them is :mod:`faults.checks`'s job,
which needs no Django and is unit-tested.
"""

from __future__ import annotations

import io
import json
import sys
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.db.models import Count, Q, Sum

from quickscale.audit.models import AuditEvent
from quickscale.billing.client import webhook_secret
from quickscale.billing.models import Payment, PaymentStatus, Price, PriceKind, WebhookEvent
from quickscale.credits.models import CreditAccount, CreditHold, CreditTransaction, HoldState
from quickscale.services.models import RunStatus, ServiceRun

#: Marks the probe's answers among anything else a shell may print.
MARK = "FAULTS "
#: Every scope a key can have: the load uses them all.
SCOPES = ["credits:read", "services:read", "services:write", "runs:read", "usage:read"]
OPEN = [RunStatus.QUEUED, RunStatus.RUNNING]


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        connections.close_all()
        try:
            answer = {"ok": True, "result": HANDLERS[request["do"]](**request.get("args", {}))}
        # Any failure is the harness's to report, with its traceback; the probe goes on.
        except Exception:  # noqa: BLE001
            answer = {"ok": False, "error": traceback.format_exc()}
        sys.stdout.write(MARK + json.dumps(answer, cls=DjangoJSONEncoder) + "\n")
        sys.stdout.flush()


def _command(*args: Any, **options: Any) -> tuple[bool, str]:
    """Run a management command as ``manage.py`` would; whether it succeeded, and its output."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err, **options)
    except (CommandError, SystemExit) as error:
        return False, (out.getvalue() + err.getvalue() + str(error)).strip()
    return True, (out.getvalue() + err.getvalue()).strip()


def seed(*, emails: list[str], password: str, credits: str) -> dict[str, Any]:
    """Make each customer with ``manage.py create_user``, ``credits grant`` and ``apikeys
    create``; return their tokens, the packs on sale and the webhook signing secret."""
    customers = []
    for email in emails:
        for args, options in (
            (("create_user", email), {"password": password}),
            (
                ("credits", "grant", email, credits),
                {"source": "promotion", "reason": "fault harness", "verbosity": 0},
            ),
        ):
            ok, output = _command(*args, **options)
            if not ok:
                raise RuntimeError(f"{' '.join(args)}: {output}")
        ok, token = _command(
            "apikeys", "create", email, name="fault harness", scopes=SCOPES, verbosity=0
        )
        if not ok:
            raise RuntimeError(f"apikeys create {email}: {token}")
        customers.append({"email": email, "token": token.splitlines()[-1].strip()})
    packs = [
        {"price": price.stripe_id, "credits": str(price.credits)}
        for price in Price.objects.on_sale().filter(kind=PriceKind.PACK)
    ]
    return {"customers": customers, "packs": packs, "webhook_secret": webhook_secret()}


def pending() -> dict[str, Any]:
    """What must be finished before the checks: open runs, active holds, unfinished events."""
    return {
        "open_runs": list(
            ServiceRun.objects.filter(status__in=OPEN).values_list("id", flat=True).order_by("id")
        ),
        "active_holds": CreditHold.objects.filter(state=HoldState.ACTIVE).count(),
        "unfinished_events": WebhookEvent.objects.filter(status__in=["pending", "failed"]).count(),
    }


def open_runs(*, before: float) -> list[int]:
    """The runs created before ``before`` (a Unix time) that are not finished yet."""
    created = datetime.fromtimestamp(before, tz=timezone.utc)
    runs = ServiceRun.objects.filter(status__in=OPEN, created_at__lt=created)
    return list(runs.values_list("id", flat=True).order_by("id"))


def running(*, service: str) -> list[int]:
    """The runs of ``service`` a worker is in the middle of."""
    return list(
        ServiceRun.objects.filter(status=RunStatus.RUNNING, service__slug=service)
        .values_list("id", flat=True)
        .order_by("id")
    )


def verify() -> dict[str, Any]:
    """``manage.py credits verify``, then ``audit seal`` and ``audit verify``."""
    credits_ok, credits_out = _command("credits", "verify", verbosity=0)
    seal_ok, seal_out = _command("audit", "seal")
    audit_ok, audit_out = _command("audit", "verify")
    return {
        "credits_verify": {"ok": credits_ok, "output": credits_out[-2000:]},
        "audit_seal": {"ok": seal_ok, "output": seal_out[-2000:]},
        "audit_verify": {"ok": audit_ok, "output": audit_out[-2000:]},
        "audit_events": AuditEvent.objects.count(),
    }


def _sum(queryset: Any, field: str) -> str:
    return str(queryset.aggregate(total=Sum(field))["total"] or Decimal(0))


def facts(*, emails: list[str]) -> dict[str, Any]:
    """Everything the checks judge, for the whole database and for the harness's customers."""
    customers = {}
    for user in get_user_model().objects.filter(email__in=emails):
        account = CreditAccount.objects.filter(owner=user).first()
        entries = CreditTransaction.objects.filter(account=account)
        runs = ServiceRun.objects.filter(user=user)
        succeeded = runs.filter(status=RunStatus.SUCCEEDED)
        charges = entries.filter(kind__in=["debit", "capture"]).exclude(amount=0)
        paid = Payment.objects.filter(user=user, status=PaymentStatus.PAID)
        customers[user.email] = {
            "balance": str(account.balance if account else 0),
            "held": str(account.held if account else 0),
            "granted": _sum(entries.filter(kind="grant"), "amount"),
            "grants": entries.filter(kind="grant").count(),
            "other_entries": list(
                entries.exclude(
                    kind__in=["grant", "debit", "hold", "capture", "release", "allocation"]
                ).values_list("kind", flat=True)
            ),
            "purchased": _sum(paid, "credits"),
            "payments_paid": paid.count(),
            "spent": _sum(succeeded, "cost"),
            "charged": str(-Decimal(_sum(charges, "amount"))),
            "charges": charges.count(),
            "charged_runs": succeeded.filter(cost__gt=0).count(),
            "runs_linked_to_charges": succeeded.filter(charge__isnull=False, cost__gt=0)
            .values("charge")
            .distinct()
            .count(),
            "runs": dict(runs.values_list("status").annotate(n=Count("id")).order_by()),
            "failed_with_cost": runs.filter(status=RunStatus.FAILED)
            .exclude(Q(cost=0) | Q(cost__isnull=True))
            .count(),
        }
    harness_runs = ServiceRun.objects.filter(user__email__in=emails)
    grants_per_payment = (
        CreditTransaction.objects.filter(kind="grant", reference__startswith="stripe:")
        .values("reference")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    return {
        "customers": customers,
        "open_runs": list(
            ServiceRun.objects.filter(status__in=OPEN).values(
                "id", "status", "service__slug", "started_at"
            )
        ),
        "active_holds": CreditHold.objects.filter(state=HoldState.ACTIVE).count(),
        "runs": {
            str(run_id): [status, str(cost) if cost is not None else None]
            for run_id, status, cost in harness_runs.values_list("id", "status", "cost")
        },
        "keys": {
            f"{email}|{key}": run_id
            for email, key, run_id in harness_runs.filter(
                idempotency_key__isnull=False
            ).values_list("user__email", "idempotency_key", "id")
        },
        "events": dict(
            WebhookEvent.objects.values_list("status").annotate(n=Count("id")).order_by()
        ),
        "unfinished_events": list(
            WebhookEvent.objects.filter(status__in=["pending", "failed"]).values(
                "stripe_id", "type", "status", "attempts", "error"
            )
        ),
        "event_attempts": dict(
            WebhookEvent.objects.values_list("attempts").annotate(n=Count("id")).order_by()
        ),
        "payments": [
            {
                "session": payment.checkout_session_id,
                "invoice": payment.invoice_id,
                "status": payment.status,
                "granted": payment.grant_entry_id is not None,
                "credits": str(payment.credits),
            }
            for payment in Payment.objects.all()
        ],
        "doubled_grants": [row["reference"] for row in grants_per_payment],
    }


def events(*, exclude: list[str]) -> list[dict[str, Any]]:
    """The stored events not in ``exclude``, with their payloads, to deliver again."""
    return [
        {"id": stripe_id, "type": kind, "payload": payload}
        for stripe_id, kind, payload in WebhookEvent.objects.exclude(stripe_id__in=exclude)
        .order_by("id")
        .values_list("stripe_id", "type", "payload")
    ]


HANDLERS: dict[str, Callable[..., Any]] = {
    "seed": seed,
    "pending": pending,
    "running": running,
    "open_runs": open_runs,
    "verify": verify,
    "facts": facts,
    "events": events,
}
