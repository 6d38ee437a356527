"""The API under ``/api/``, and the baseline: a bare view doing only the SQL of a charge."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from benchmarks.bench_ledger import baseline_debit


@csrf_exempt
def bare_charge(request: HttpRequest, owner_id: int) -> JsonResponse:
    """Debit 1 credit of ``owner_id``'s account with the least SQL (bench_ledger's baseline:
    a conditional UPDATE of the account and one INSERT, in one transaction)."""
    balance = baseline_debit(owner_id)
    return JsonResponse({"balance": str(balance)}, status=201)


@csrf_exempt
def bare_charge_prepared(request: HttpRequest, owner_id: int) -> JsonResponse:
    """The bare view with its two statements prepared, as the API's hot statements are."""
    balance = baseline_debit(owner_id, prepared=True)
    return JsonResponse({"balance": str(balance)}, status=201)


def ready(request: HttpRequest) -> HttpResponse:
    """Answers once the server is up (no database)."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("api/", include("quickscale.api.urls")),
    path("bare/charge/<int:owner_id>", bare_charge),
    path("bare/charge-prepared/<int:owner_id>", bare_charge_prepared),
    path("bare/ready", ready),
]
