"""What the API returns for each object: plain dicts, amounts as decimal strings.

Amounts are strings with the configured places (``"12.50"``) so no client parses money as a
float; times are ISO 8601 (the JSON encoder writes them).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from quickscale.api.schema import Schema, form_schema
from quickscale.credits import ledger
from quickscale.credits.amounts import display
from quickscale.credits.models import CreditTransaction
from quickscale.services.base import BaseService
from quickscale.services.execution import fixed_price
from quickscale.services.models import Service, ServiceRun


def amount(value: Decimal | None) -> str | None:
    """An amount as a decimal string with the configured places (``"12.50"``); ``None`` stays
    ``None``."""
    return None if value is None else display(value)


def balance(user: Any) -> dict[str, Any]:
    """The user's balance, the credits held, what is available and the grants."""
    current = ledger.balance(user)
    return {
        "balance": amount(current.balance),
        "available": amount(current.available),
        "held": amount(current.held),
        "grants": grants(user),
    }


def grants(user: Any) -> list[dict[str, Any]]:
    """The user's unexpired credits per grant, in the order they will be spent."""
    return [
        {"source": g.source, "remaining": amount(g.remaining), "expires_at": g.expires_at}
        for g in ledger.grants(user)
    ]


def transaction(entry: CreditTransaction) -> dict[str, Any]:
    """A ledger entry."""
    return {
        "id": entry.pk,
        "kind": entry.kind,
        "amount": amount(entry.amount),
        "balance_after": amount(entry.balance_after),
        "held_change": amount(entry.held_delta),
        "held_after": amount(entry.held_after),
        "reason": entry.reason,
        "reference": entry.reference,
        "created_at": entry.created_at,
    }


def service(service: BaseService, entry: Service) -> dict[str, Any]:
    """A service of the catalog: its cost (``None`` when it depends on the input), how it runs
    and the JSON Schema of its input."""
    return {
        "slug": entry.slug,
        "name": entry.name,
        "description": entry.description,
        "cost": amount(fixed_price(service, entry)),
        "mode": service.mode,
        "async": service.run_async,
        "available": service.is_available(),
        "input_schema": input_schema(service),
    }


def input_schema(service: BaseService) -> Schema:
    """The JSON Schema of a service's input, from its input form."""
    return form_schema(service.input_form)


def run(entry: ServiceRun) -> dict[str, Any]:
    """A run of a service: its status, cost, output or error, and times."""
    return {
        "id": entry.pk,
        "service": entry.service.slug,
        "status": entry.status,
        "mode": entry.mode,
        "cost": amount(entry.cost),
        "output": entry.output,
        "error": entry.error or None,
        "idempotency_key": entry.idempotency_key,
        "created_at": entry.created_at,
        "started_at": entry.started_at,
        "finished_at": entry.finished_at,
        "duration_ms": entry.duration_ms,
    }


def usage_row(row: dict[str, Any]) -> dict[str, Any]:
    """One service's runs and credits spent on one day."""
    day: date = row["day"]
    return {
        "day": day.isoformat(),
        "service": row["service"],
        "name": row["name"],
        "runs": row["runs"],
        "succeeded": row["succeeded"],
        "credits": amount(row["credits"]),
    }
