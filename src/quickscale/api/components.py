"""The reusable parts of the OpenAPI document: the error codes the API answers with, the
response headers it sends and the ``components`` schemas of its bodies, each with an example.

:mod:`quickscale.api.openapi` assembles the document from these and from the views'
``api_view`` declarations.
"""

from __future__ import annotations

from typing import Any

from quickscale.api.errors import (
    CSRFFailed,
    InvalidJSON,
    InvalidParameter,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from quickscale.api.schema import Schema
from quickscale.apikeys.exceptions import (
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    RateLimitUnavailable,
)
from quickscale.core.errors import DatabaseUnavailable, QuickScaleError
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.credits.models import GrantSource, TransactionKind
from quickscale.services.exceptions import (
    InvalidInput,
    QueueUnavailable,
    ServiceDisabled,
    ServiceNotFound,
)
from quickscale.services.models import RunMode, RunStatus

VERSION = "3.1.0"

#: Every error code the API answers with, by the class that raises it, and when.
ERRORS: list[tuple[type[QuickScaleError], str]] = [
    (InvalidJSON, "The body is not JSON, or not a JSON object."),
    (InvalidRequest, "A field or header the endpoint does not take, or a malformed one."),
    (InvalidParameter, "A query parameter (`limit`, `cursor`, `since`) has a bad value."),
    (InvalidInput, "The service refused the input; `details` maps each field to its messages."),
    (AuthenticationFailed, "No API key, or a key that is malformed, unknown, revoked or expired."),
    (InsufficientCredits, "The available credits do not cover the cost of the run."),
    (PermissionDenied, "The key lacks the scope the endpoint needs (named in `details`)."),
    (CSRFFailed, "A request without a key failed the CSRF check (a browser session)."),
    (NotFound, "There is nothing at this address, or it belongs to someone else."),
    (ServiceNotFound, "No service has this slug."),
    (MethodNotAllowed, "The endpoint does not take this method; see the `Allow` header."),
    (IdempotencyConflict, "The Idempotency-Key was used before for another service or input."),
    (ServiceDisabled, "The service is switched off, or not configured on this site."),
    (PayloadTooLarge, "The body is larger than the site accepts."),
    (UnsupportedMediaType, "The body is not sent as `application/json` in UTF-8."),
    (RateLimited, "Too many requests; wait the seconds in the `Retry-After` header."),
    (
        RateLimitUnavailable,
        "The rate limits cannot count requests right now (their cache is down and the site "
        "fails closed); retry after the seconds in the `Retry-After` header.",
    ),
    (
        QueueUnavailable,
        "A background run could not be queued (the task backend is down): nothing was charged "
        "and the `Idempotency-Key` is free; send the request again after the seconds in the "
        "`Retry-After` header.",
    ),
    (
        DatabaseUnavailable,
        "The database cannot be reached for a moment; retry after the seconds in the "
        "`Retry-After` header.",
    ),
]
RETRY_AFTER: Schema = {"type": "integer", "minimum": 0, "examples": [10]}
#: The header each error status always sends: its name, meaning and schema.
ERROR_HEADERS: dict[int, tuple[str, str, Schema]] = {
    401: (
        "WWW-Authenticate",
        'Always `Bearer realm="api"`.',
        {"type": "string", "enum": ['Bearer realm="api"']},
    ),
    405: ("Allow", "The method the endpoint takes.", {"type": "string", "examples": ["GET"]}),
    429: ("Retry-After", "Seconds to wait before the next request.", RETRY_AFTER),
    503: ("Retry-After", "Seconds to wait before trying again.", RETRY_AFTER),
}
#: Sent with every response of the API.
CACHE_CONTROL: dict[str, Any] = {
    "description": "Always `no-store`.",
    "required": True,
    "schema": {"type": "string", "enum": ["no-store"]},
}

AMOUNT: Schema = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
    "description": "A number of credits as a decimal string.",
    "examples": ["12.50"],
}
TIME: Schema = {"type": "string", "format": "date-time"}


def ref(name: str) -> Schema:
    """A reference to the schema ``name`` of the document's ``components``."""
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def _object(properties: dict[str, Schema], description: str = "") -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "required": list(properties)}
    if description:
        schema["description"] = description
    return schema


def _page(item: str) -> Schema:
    return _object(
        {
            "data": {"type": "array", "items": ref(item)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass it as `cursor` for the next page; `null` on the last page.",
            },
        }
    )


RUN = _object(
    {
        "id": {"type": "integer"},
        "service": {"type": "string", "description": "The service's slug."},
        "status": {"enum": list(RunStatus.values)},
        "mode": {"enum": list(RunMode.values)},
        "cost": _nullable(AMOUNT) | {"description": "Credits charged; 0 for a failed run."},
        "output": {"description": "What the service returned (`null` until it succeeded)."},
        "error": {"type": ["string", "null"], "description": "Why the run failed."},
        "idempotency_key": {"type": ["string", "null"]},
        "created_at": TIME,
        "started_at": _nullable(TIME),
        "finished_at": _nullable(TIME),
        "duration_ms": {"type": ["integer", "null"]},
    }
)

SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {
                        "type": "string",
                        "enum": sorted({error.code for error, _ in ERRORS}),
                        "description": "Stable: branch on it.",
                    },
                    "message": {"type": "string", "description": "For people; may change."},
                    "details": {"description": "Machine-readable specifics, or `null`."},
                }
            )
        },
        "The one shape of every error.",
    ),
    "Amount": AMOUNT,
    "Grant": _object(
        {
            "source": {"enum": list(GrantSource.values)},
            "remaining": AMOUNT,
            "expires_at": _nullable(TIME),
        }
    ),
    "Balance": _object(
        {
            "balance": AMOUNT,
            "available": AMOUNT | {"description": "The balance less the held credits."},
            "held": AMOUNT | {"description": "Credits reserved for running work."},
            "grants": {"type": "array", "items": ref("Grant")},
        }
    ),
    "Transaction": _object(
        {
            "id": {"type": "integer"},
            "kind": {"enum": [kind for kind in TransactionKind.values if kind != "allocation"]},
            "amount": AMOUNT | {"description": "The change of the balance."},
            "balance_after": AMOUNT,
            "held_change": AMOUNT,
            "held_after": AMOUNT,
            "reason": {"type": "string"},
            "reference": {"type": "string"},
            "created_at": TIME,
        }
    ),
    "TransactionPage": _page("Transaction"),
    "Service": _object(
        {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "cost": _nullable(AMOUNT)
            | {"description": "The price of a run; `null` when it depends on the input."},
            "mode": {"enum": list(RunMode.values)},
            "async": {"type": "boolean", "description": "Runs are queued (answered 202)."},
            "available": {"type": "boolean", "description": "False: the service cannot run now."},
            "input_schema": {"type": "object", "description": "JSON Schema of `input`."},
        }
    ),
    "ServiceList": _object({"data": {"type": "array", "items": ref("Service")}}),
    "RunRequest": {
        "type": "object",
        "properties": {
            "input": {
                "type": "object",
                "description": "The service's input, validated against the input schema of the "
                "service named in the address (`ServiceInput.<slug>`, as in the operation "
                "`POST /api/v1/services/<slug>/runs` of that service): a field of the wrong JSON "
                "type, an unknown field or a missing required one is a 400 `invalid_input`.",
            }
        },
        "additionalProperties": False,
    },
    "Run": RUN,
    "RunCreated": {
        "allOf": [
            ref("Run"),
            _object({"balance": AMOUNT | {"description": "The balance after the run."}}),
        ]
    },
    "RunPage": _page("Run"),
    "UsageDay": _object(
        {
            "day": {"type": "string", "format": "date"},
            "service": {"type": "string"},
            "name": {"type": "string"},
            "runs": {"type": "integer"},
            "succeeded": {"type": "integer"},
            "credits": AMOUNT,
        }
    ),
    "Usage": _object({"data": {"type": "array", "items": ref("UsageDay")}}),
    "OpenAPIDocument": {"type": "object", "description": "An OpenAPI 3.1 document."},
}

_RUN_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "service": "echo",
    "status": "succeeded",
    "mode": "held",
    "cost": "2.00",
    "output": {"text": "Hello, world"},
    "error": None,
    "idempotency_key": "7f9c1b1e-4d2a-4d7b-9a53-1f0e2b3c4d5e",
    "created_at": "2025-01-31T12:00:00Z",
    "started_at": "2025-01-31T12:00:00Z",
    "finished_at": "2025-01-31T12:00:01Z",
    "duration_ms": 812,
}
_TRANSACTION_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "kind": "grant",
    "amount": "100.00",
    "balance_after": "100.00",
    "held_change": "0.00",
    "held_after": "0.00",
    "reason": "Pack of 100 credits",
    "reference": "cs_test_123",
    "created_at": "2025-01-31T11:00:00Z",
}
#: An example of each success body, by the name of its schema.
EXAMPLES: dict[str, Any] = {
    "Balance": {
        "balance": "98.00",
        "available": "96.00",
        "held": "2.00",
        "grants": [{"source": "purchase", "remaining": "98.00", "expires_at": None}],
    },
    "TransactionPage": {"data": [_TRANSACTION_EXAMPLE], "next_cursor": "dHg6Nw"},
    "ServiceList": {
        "data": [
            {
                "slug": "echo",
                "name": "Echo",
                "description": "Returns its input.",
                "cost": "2.00",
                "mode": "held",
                "async": False,
                "available": True,
                "input_schema": {
                    "type": "object",
                    "properties": {"text": {"type": "string", "minLength": 1}},
                    "required": ["text"],
                    "additionalProperties": False,
                },
            }
        ]
    },
    "Run": _RUN_EXAMPLE,
    "RunCreated": {**_RUN_EXAMPLE, "balance": "96.00"},
    "RunPage": {"data": [_RUN_EXAMPLE], "next_cursor": None},
    "Usage": {
        "data": [
            {
                "day": "2025-01-31",
                "service": "echo",
                "name": "Echo",
                "runs": 3,
                "succeeded": 2,
                "credits": "4.00",
            }
        ]
    },
    "OpenAPIDocument": {"openapi": VERSION, "info": {"title": "QuickScale API", "version": "1"}},
}
#: The ``details`` of each error's example, by its code (``null`` when absent).
ERROR_DETAILS: dict[str, Any] = {
    "invalid_json": {"reason": "Expecting value: line 1 column 1 (char 0)"},
    "invalid_request": {"unknown_fields": ["inputs"]},
    "invalid_parameter": {"parameter": "limit", "maximum": 200},
    "invalid_input": {"text": ["Expected a string, got an integer."]},
    "permission_denied": {"missing_scopes": ["services:write"]},
    "method_not_allowed": {"allowed": ["GET"]},
    "payload_too_large": {"max_bytes": 2621440},
    "unsupported_media_type": {"content_type": "text/plain"},
    "rate_limited": {"retry_after": 10},
}
