"""``async def`` views that pay through the async entry points, as an ASGI project's would."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from quickscale.credits import ledger
from quickscale.credits.exceptions import InsufficientCredits
from quickscale.services import execution

#: What every request pays besides its service run: one credit, debited directly.
FEE = 1


@require_POST
async def run_and_debit(request: HttpRequest, user_id: int) -> JsonResponse:
    """Run the service named in the body with ``aexecute``, then debit the fee with
    ``adebit``; a ``key`` in the body makes both idempotent (a retry gets the first run, still
    ``running`` if it is, and the first fee). 402 when the credits run out."""
    body: dict[str, Any] = json.loads(request.body)
    key = body.get("key")
    user = await get_user_model().objects.aget(pk=user_id)
    try:
        run = await execution.aexecute(
            user,
            body["service"],
            {"text": "one two three"},
            idempotency_key=f"{key}:run" if key else None,
        )
    except InsufficientCredits as error:
        return JsonResponse({"error": error.code}, status=402)
    answer: dict[str, Any] = {"run": run.pk, "status": run.status, "replayed": run.replayed}
    if run.status == "failed":
        return JsonResponse(answer, status=502)
    # Succeeded, or (a retry while the first call still runs) running: the fee is due once.
    try:
        entry = await ledger.adebit(
            user,
            FEE,
            reason="request fee",
            reference=f"run {run.pk}",
            idempotency_key=f"{key}:fee" if key else None,
        )
    except InsufficientCredits as error:
        return JsonResponse({**answer, "error": error.code}, status=402)
    return JsonResponse({**answer, "fee": entry.pk})


@require_GET
async def balance(request: HttpRequest, user_id: int) -> JsonResponse:
    """The user's available credits, read with ``abalance``."""
    current = await ledger.abalance(user_id)
    return JsonResponse({"available": str(current.available)})
