"""The endpoints of ``/api/v1/``: each reads the request, calls the operation of the app that owns
it (the ledger, the services) and returns what it got as JSON.

Each ``api_view`` declaration is both the endpoint's behaviour (method, scope, body) and its
entry in the OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found as django_page_not_found

from quickscale.api import docs_page, openapi, serializers
from quickscale.api.decorators import Header, Parameter, api_view, to_response
from quickscale.api.errors import CSRFFailed, InvalidParameter, InvalidRequest, NotFound
from quickscale.api.limits import (
    CURSOR_MAX_LENGTH,
    CURSOR_PATTERN,
    DATE_PATTERN,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_ID,
    RUN_ID_PATTERN,
)
from quickscale.api.pagination import decode_cursor, encode_cursor, limit_schema, page_size
from quickscale.api.schema import form_schema
from quickscale.api.validation import check_input
from quickscale.credits import ledger
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.services import execution
from quickscale.services.exceptions import (
    InvalidInput,
    QueueUnavailable,
    ServiceDisabled,
    ServiceNotFound,
)
from quickscale.services.execution import enabled_services
from quickscale.services.models import RunStatus, ServiceRun
from quickscale.services.registry import registry

LIMIT = Parameter(
    "limit",
    "Items per page, from 1 to `QUICKSCALE_API_MAX_PAGE_SIZE` "
    "(default `QUICKSCALE_API_PAGE_SIZE`).",
    limit_schema,
)
CURSOR = Parameter(
    "cursor",
    "The `next_cursor` of the previous page (an opaque base64url token); omit it for the "
    "first page.",
    {"type": "string", "pattern": CURSOR_PATTERN, "maxLength": CURSOR_MAX_LENGTH},
)
SINCE = Parameter(
    "since",
    "Only days from this date on (`YYYY-MM-DD`, UTC).",
    {"type": "string", "format": "date", "pattern": DATE_PATTERN},
)
IDEMPOTENCY_KEY = Parameter(
    "Idempotency-Key",
    f"Up to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters, unique per request (a "
    "UUID). Sending the same key again returns the first run instead of running again; the "
    "same key with another service or input is a 409.",
    {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    },
    location="header",
)
RUN_ID = Parameter(
    "run_id",
    "The run's `id`.",
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    location="path",
)
LOCATION = Header(
    "Location",
    "The address of the run (`/api/v1/runs/{id}`), to poll it.",
    {"type": "string", "format": "uri-reference"},
    statuses=(201, 202),
    required=True,
)
REPLAYED = Header(
    "Idempotent-Replayed",
    "`true` when the `Idempotency-Key` was sent before and this is the first run again; "
    "absent otherwise.",
    {"type": "string", "enum": ["true"]},
    statuses=(201, 202),
)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_DATE = re.compile(DATE_PATTERN)
_ID = re.compile(RUN_ID_PATTERN)
#: Fields a run request may have.
RUN_FIELDS = frozenset({"input"})


@api_view(
    "GET",
    scope="credits:read",
    summary="Credit balance",
    description="The balance, the credits held for running work, what is available (balance "
    "less held), and the unexpired credits of each grant in the order they are spent.",
    response="Balance",
)
def balance(request: HttpRequest) -> HttpResponse:
    """``GET /api/v1/credits/balance``: the caller's balance."""
    return JsonResponse(serializers.balance(request.user))


@api_view(
    "GET",
    scope="credits:read",
    summary="Credit transactions",
    description="The ledger entries of the account, newest first.",
    response="TransactionPage",
    parameters=(LIMIT, CURSOR),
)
def transactions(request: HttpRequest) -> HttpResponse:
    """``GET /api/v1/credits/transactions``: the caller's ledger entries, a page at a time."""
    limit = page_size(request)
    page = ledger.statement(request.user, before=decode_cursor(request, "tx"), limit=limit)
    return JsonResponse(
        {
            "data": [serializers.transaction(entry) for entry in page.items],
            "next_cursor": None
            if page.next_cursor is None
            else encode_cursor("tx", page.next_cursor),
        }
    )


@api_view(
    "GET",
    scope="services:read",
    summary="Service catalog",
    description="The services that can be run, with their cost (`null` when it depends on the "
    "input) and the JSON Schema of their input.",
    response="ServiceList",
)
def services(request: HttpRequest) -> HttpResponse:
    """``GET /api/v1/services``: the enabled services."""
    return JsonResponse(
        {"data": [serializers.service(service, entry) for service, entry in enabled_services()]}
    )


@transaction.non_atomic_requests  # a held run works outside the request's transaction
@api_view(
    "POST",
    scope="services:write",
    summary="Run a service",
    description="Validates the input, charges the cost and runs the service. A run that fails "
    "is returned with `status` `failed` and costs nothing. `balance` is the balance after the "
    "run. Send an `Idempotency-Key` so a retried request cannot run (and charge) twice: a "
    "replay returns the first run with the header `Idempotent-Replayed: true`.",
    response="RunCreated",
    statuses={
        201: "The run finished (succeeded or failed).",
        202: "The run is queued or running: poll `GET /api/v1/runs/{id}`.",
    },
    parameters=(IDEMPOTENCY_KEY,),
    headers=(LOCATION, REPLAYED),
    body="RunRequest",
    errors=(
        InvalidInput,
        InsufficientCredits,
        ServiceNotFound,
        ServiceDisabled,
        IdempotencyConflict,
        QueueUnavailable,
    ),
)
def create_run(request: HttpRequest, slug: str, *, body: dict[str, Any]) -> HttpResponse:
    """``POST /api/v1/services/{slug}/runs``: run a service for the caller through
    :func:`quickscale.services.execution.execute`: 201 with the finished run, 202 with a run
    that is queued or still running."""
    unknown = sorted(set(body) - RUN_FIELDS)
    if unknown:
        raise InvalidRequest(
            gettext('Unknown field %(field)r: send {"input": {...}}.') % {"field": unknown[0]},
            details={"unknown_fields": unknown},
        )
    key = _idempotency_key(request)
    data = body.get("input", {})
    # The JSON types first, against the schema the document publishes for this service, so
    # that the form never coerces a wrong type (``12345`` for a text) into a charged run.
    check_input(data, form_schema(registry.get(slug).input_form))
    result = execution.execute(request.user, slug, data, idempotency_key=key)
    # The balance the charge left, when this call charged; else (a replay, a failed, held or
    # free run) the balance now.
    after = result.balance_after
    if after is None:
        after = ledger.balance(request.user).balance
    response = JsonResponse(
        {**serializers.run(result), "balance": serializers.amount(after)},
        status=202 if result.status in (RunStatus.QUEUED, RunStatus.RUNNING) else 201,
    )
    response[LOCATION.name] = _run_location(result.pk)
    if result.replayed:
        response[REPLAYED.name] = "true"
    return response


#: Where a run is, per URL prefix and URLconf: its reversed address with a mark for the id.
_RUN_LOCATIONS: dict[tuple[str, Any], tuple[str, str]] = {}
_MARK = "quickscale-run-id"


def _run_location(pk: int) -> str:
    """``reverse("quickscale_api:run", args=[pk])``, reversed once per URL prefix and URLconf."""
    key = (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    parts = _RUN_LOCATIONS.get(key)
    if parts is None:
        head, _, tail = reverse("quickscale_api:run", args=[_MARK]).rpartition(_MARK)
        parts = _RUN_LOCATIONS[key] = (head, tail)
    return f"{parts[0]}{pk}{parts[1]}"


def _idempotency_key(request: HttpRequest) -> str | None:
    key = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidRequest(
            gettext("The Idempotency-Key header must be 1 to 255 printable ASCII characters."),
            details={"header": "Idempotency-Key"},
        )
    return key


@api_view(
    "GET",
    scope="runs:read",
    summary="Your runs",
    description="The runs of the key's owner, newest first.",
    response="RunPage",
    parameters=(LIMIT, CURSOR),
)
def run_list(request: HttpRequest) -> HttpResponse:
    """``GET /api/v1/runs``: the caller's runs, a page at a time."""
    limit = page_size(request)
    before = decode_cursor(request, "run")
    found = ServiceRun.objects.filter(user=request.user).select_related("service")
    if before is not None:
        found = found.filter(pk__lt=before)
    items = list(found.order_by("-pk")[: limit + 1])
    more = len(items) > limit
    return JsonResponse(
        {
            "data": [serializers.run(item) for item in items[:limit]],
            "next_cursor": encode_cursor("run", items[limit - 1].pk) if more else None,
        }
    )


@api_view(
    "GET",
    scope="runs:read",
    summary="One of your runs",
    description="Poll it to follow a queued run. Another user's run is a 404, like a missing one.",
    response="Run",
    parameters=(RUN_ID,),
)
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    """``GET /api/v1/runs/{id}``: one of the caller's runs."""
    found = None
    if _ID.fullmatch(run_id) and int(run_id) <= MAX_ID:
        found = (
            ServiceRun.objects.filter(user=request.user, pk=int(run_id))
            .select_related("service")
            .first()
        )
    if found is None:
        raise NotFound(
            gettext("You have no run %(run)r.") % {"run": run_id}, details={"run": run_id}
        )
    return JsonResponse(serializers.run(found))


@api_view(
    "GET",
    scope="usage:read",
    summary="Usage",
    description="Runs, successful runs and credits spent per service and per day (UTC), "
    "newest day first.",
    response="Usage",
    parameters=(SINCE,),
)
def usage(request: HttpRequest) -> HttpResponse:
    """``GET /api/v1/usage``: the caller's runs and credits spent per service and per day."""
    raw = request.GET.get("since")
    since = None
    if raw is not None:
        try:
            since = date.fromisoformat(raw) if _DATE.fullmatch(raw) else None
        except ValueError:
            since = None
        if since is None:
            raise InvalidParameter(
                gettext("since must be a date written YYYY-MM-DD."), details={"parameter": "since"}
            )
    rows = execution.usage(request.user, since=since)
    return JsonResponse({"data": [serializers.usage_row(row) for row in rows]})


@api_view(
    "GET",
    scope=None,
    summary="OpenAPI document",
    description="This API described in OpenAPI 3.1, with the input schema of every service.",
    response="OpenAPIDocument",
)
def openapi_document(request: HttpRequest) -> HttpResponse:
    """``GET /api/v1/openapi.json``: the OpenAPI document, without a key."""
    return JsonResponse(openapi.document(), json_dumps_params={"indent": 2})


@api_view(
    "GET",
    scope=None,
    summary="API documentation",
    description="The OpenAPI document rendered as a page.",
    media_type="text/html",
    documented=False,
)
def docs(request: HttpRequest) -> HttpResponse:
    """``GET /api/docs/``: the API's documentation page, without a key."""
    context = docs_page.page_context(
        openapi.document(),
        request.build_absolute_uri("/"),
        openapi_url=reverse("quickscale_api:openapi"),
    )
    return render(request, "quickscale/api/docs.html", context)


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Every other address under the API: a JSON 404 rather than the site's HTML page."""
    response = to_response(
        NotFound(gettext("There is no endpoint %(path)r.") % {"path": request.path})
    )
    response["Cache-Control"] = "no-store"
    return response


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A ``handler404`` that answers addresses under the API's prefixes
    (``QUICKSCALE_APIKEYS_PATH_PREFIXES``) with the JSON 404, and others with Django's page.

    The API's own URLs end with a catch-all for ``v1/``; a host that keeps other views under
    ``/api/`` sets ``handler404 = "quickscale.api.views.page_not_found"`` in its root URLconf
    so that an unknown address there is a JSON 404 as well.
    """
    prefixes = settings.QUICKSCALE_APIKEYS_PATH_PREFIXES
    if not any(request.path_info.startswith(prefix) for prefix in prefixes):
        return django_page_not_found(request, exception or Http404())
    return not_found(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A ``CSRF_FAILURE_VIEW`` that answers API requests in the API's error shape.

    Only a request without an API key gets here: a browser session posting without its CSRF
    token, or a client that forgot its key. Other paths get Django's own page.
    """
    prefixes = settings.QUICKSCALE_APIKEYS_PATH_PREFIXES
    if not any(request.path_info.startswith(prefix) for prefix in prefixes):
        return django_csrf_failure(request, reason)
    response = to_response(
        CSRFFailed(
            "Send an API key ('Authorization: Bearer <key>'); a browser session also needs "
            "its CSRF token.",
            details={"reason": reason},
        )
    )
    response["Cache-Control"] = "no-store"
    return response
