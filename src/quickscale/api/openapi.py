"""The OpenAPI 3.1 document of the API, generated from the code at request time.

Paths come from ``quickscale.api.urls``, each operation from its ``api_view`` declaration, the
errors from the exception classes and the request bodies from the enabled services' forms, so
a new service or a staff change in the catalog shows in the document at once.
"""

from __future__ import annotations

import re
from typing import Any

from django.urls import URLPattern, reverse

from quickscale.api.decorators import Operation, Parameter
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
from quickscale.api.schema import Schema, example, form_schema
from quickscale.api.serializers import amount
from quickscale.apikeys.exceptions import (
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    RateLimitUnavailable,
)
from quickscale.core.errors import DatabaseUnavailable, QuickScaleError
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.credits.models import GrantSource, TransactionKind
from quickscale.services.base import BaseService
from quickscale.services.exceptions import (
    InvalidInput,
    QueueUnavailable,
    ServiceDisabled,
    ServiceNotFound,
)
from quickscale.services.execution import enabled_services, fixed_price
from quickscale.services.models import RunMode, RunStatus, Service

VERSION = "3.1.0"
ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
CONVERTER_SCHEMAS: dict[str, Schema] = {
    "int": {"type": "integer", "minimum": 0},
    "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "uuid": {"type": "string", "format": "uuid"},
}

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
RETRY_AFTER: Schema = {"type": "string", "pattern": "^[0-9]+$", "examples": ["10"]}
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
    "schema": {"type": "string", "enum": ["no-store"]},
}

AMOUNT: Schema = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
    "description": "A number of credits as a decimal string.",
    "examples": ["12.50"],
}
TIME: Schema = {"type": "string", "format": "date-time"}


def _ref(name: str) -> Schema:
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
            "data": {"type": "array", "items": _ref(item)},
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
            "grants": {"type": "array", "items": _ref("Grant")},
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
    "ServiceList": _object({"data": {"type": "array", "items": _ref("Service")}}),
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
            _ref("Run"),
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
    "Usage": _object({"data": {"type": "array", "items": _ref("UsageDay")}}),
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

DESCRIPTION = """\
JSON in and out. Authenticate with an API key: `Authorization: Bearer <key>` (or `X-API-Key:
<key>`). Each endpoint needs one scope; a key has only the scopes it was given (`write` implies
`read`).

Every error has the shape `{"error": {"code": "...", "message": "...", "details": ...}}`; branch
on `code`. Amounts are decimal strings (`"12.50"`). Lists are newest first and paginated with
`limit` and the opaque `cursor` (the previous page's `next_cursor`).
"""


def document() -> dict[str, Any]:
    """The OpenAPI document of the API as included in the site's URLs."""
    services = enabled_services()
    paths: dict[str, dict[str, Any]] = {}
    for pattern, operation in _operations():
        route = str(pattern.pattern)
        path = _root() + ROUTE_PARAMETER.sub(r"{\g<name>}", route)
        entry = _operation(pattern, operation, route)
        # The run endpoint takes a different input per service: its slug lists the services,
        # and each service gets its own path with its own input schema.
        if operation.body == "RunRequest":
            slugs = [entry_.slug for _, entry_ in services]
            for parameter in entry["parameters"]:
                if parameter["name"] == "slug" and slugs:
                    parameter["schema"] = {"type": "string", "enum": slugs}
        paths.setdefault(path, {})[operation.method.lower()] = entry
        if operation.body == "RunRequest":
            for service, catalog_entry in services:
                concrete = path.replace("{slug}", catalog_entry.slug)
                paths[concrete] = {
                    operation.method.lower(): _service_operation(entry, service, catalog_entry)
                }
    schemas = dict(SCHEMAS)
    for service, catalog_entry in services:
        schemas[f"ServiceInput.{catalog_entry.slug}"] = form_schema(service.input_form) | {
            "title": f"{catalog_entry.name} input"
        }
    if services:
        # The generic route: the input is one of the services' inputs (the one of the slug in
        # the address, which the description says and the API checks).
        generic_input = dict(SCHEMAS["RunRequest"]["properties"]["input"])
        generic_input["anyOf"] = [_ref(f"ServiceInput.{e.slug}") for _, e in services]
        schemas["RunRequest"] = {
            **SCHEMAS["RunRequest"],
            "properties": {"input": generic_input},
        }
    return {
        "openapi": VERSION,
        "info": {"title": "QuickScale API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
        "tags": [
            {"name": "credits", "description": "The credit balance and the ledger."},
            {"name": "services", "description": "The catalog, and running services."},
            {"name": "runs", "description": "Your service runs."},
            {"name": "usage", "description": "What you ran and spent, per day."},
            {"name": "meta", "description": "This document (no key needed)."},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: `Authorization: Bearer qs_live_...`.",
                },
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _operations() -> list[tuple[URLPattern, Operation]]:
    from quickscale.api import urls  # here: the URLs import the views, which import this module

    found = []
    for pattern in urls.urlpatterns:
        operation = getattr(pattern.callback, "operation", None)
        if isinstance(pattern, URLPattern) and operation is not None and operation.documented:
            found.append((pattern, operation))
    return found


def _root() -> str:
    """Where the host included the API's URLs (``/api/`` normally)."""
    from quickscale.api import urls

    pattern = next(p for p in urls.urlpatterns if getattr(p, "name", None) == "openapi")
    full = reverse(f"{urls.app_name}:openapi")
    return full[: len(full) - len(str(pattern.pattern))]


def _operation(pattern: URLPattern, operation: Operation, route: str) -> dict[str, Any]:
    declared = {(p.location, p.name): p for p in operation.parameters}
    parameters = []
    for match in ROUTE_PARAMETER.finditer(route):
        name = match["name"]
        parameter = declared.pop(("path", name), None)
        schema = CONVERTER_SCHEMAS.get(match["converter"] or "str", {"type": "string"})
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": parameter.description if parameter else "",
                "schema": parameter.json_schema() if parameter else dict(schema),
            }
        )
    parameters.extend(_parameter(p) for p in declared.values())
    scope = operation.scope
    tag = route.split("/")[1].removesuffix(".json") if "/" in route else "meta"
    entry: dict[str, Any] = {
        "operationId": pattern.callback.__name__,
        "summary": operation.summary,
        "description": operation.description,
        "tags": ["meta" if tag == "openapi" else tag],
        "parameters": parameters,
        "responses": _responses(operation, has_path_parameters=bool(ROUTE_PARAMETER.search(route))),
        "security": [{"bearerAuth": [scope]}, {"apiKeyHeader": [scope]}] if scope else [],
    }
    if scope:
        entry["x-scope"] = scope
    if operation.body is not None:
        entry["requestBody"] = {
            "required": False,
            "content": {
                "application/json": {
                    "schema": _ref(operation.body),
                    "example": {"input": {"text": "Hello, world"}},
                }
            },
        }
    return entry


def _parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": parameter.location,
        "required": parameter.required,
        "description": parameter.description,
        "schema": parameter.json_schema(),
    }


def _errors_of(operation: Operation, *, has_path_parameters: bool) -> list[type[QuickScaleError]]:
    """The errors an operation can answer with: those of the request it takes, and its own."""
    errors: list[type[QuickScaleError]] = [MethodNotAllowed]
    if operation.scope is not None:
        errors += [AuthenticationFailed, PermissionDenied, RateLimited, RateLimitUnavailable]
    if any(p.location == "query" for p in operation.parameters):
        errors.append(InvalidParameter)
    if any(p.location == "header" for p in operation.parameters):
        errors.append(InvalidRequest)
    if has_path_parameters:
        errors.append(NotFound)
    if operation.body is not None:
        errors += [InvalidJSON, InvalidRequest, PayloadTooLarge, UnsupportedMediaType]
    errors += operation.errors
    errors.append(DatabaseUnavailable)  # every endpoint reads the database
    return errors


def _responses(operation: Operation, *, has_path_parameters: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description in operation.statuses.items():
        headers: dict[str, Any] = {"Cache-Control": CACHE_CONTROL}
        for header in operation.headers:
            if status in header.statuses:
                headers[header.name] = {
                    "description": header.description,
                    "schema": dict(header.schema),
                }
        response: dict[str, Any] = {"description": description, "headers": headers}
        if operation.response is not None:
            content: dict[str, Any] = {"schema": _ref(operation.response)}
            if operation.response in EXAMPLES:
                content["example"] = EXAMPLES[operation.response]
            response["content"] = {operation.media_type: content}
        responses[str(status)] = response
    explained = dict(ERRORS)
    by_status: dict[int, list[type[QuickScaleError]]] = {}
    for error in _errors_of(operation, has_path_parameters=has_path_parameters):
        if error not in by_status.setdefault(error.status, []):
            by_status[error.status].append(error)
    for status in sorted(by_status):
        lines = [f"`{error.code}`: {explained[error]}" for error in by_status[status]]
        examples = {
            error.code: {"summary": explained[error], "value": error_example(error)}
            for error in by_status[status]
        }
        response = {
            "description": "\n\n".join(lines),
            "headers": {"Cache-Control": CACHE_CONTROL},
            "content": {"application/json": {"schema": _ref("Error"), "examples": examples}},
        }
        if status in ERROR_HEADERS:
            name, meaning, schema = ERROR_HEADERS[status]
            response["headers"][name] = {"description": meaning, "schema": schema}
        responses[str(status)] = response
    return responses


def error_example(error: type[QuickScaleError]) -> dict[str, Any]:
    """An example body of ``error``: its code, a message and its usual details."""
    message = (error.__doc__ or error.code).strip().split("\n\n")[0]
    return {
        "error": {
            "code": error.code,
            "message": " ".join(message.split()),
            "details": ERROR_DETAILS.get(error.code),
        }
    }


def _service_operation(
    generic: dict[str, Any], service: BaseService, entry: Service
) -> dict[str, Any]:
    """The run endpoint of one service, with the service's own input schema."""
    input_schema = form_schema(service.input_form)
    cost = amount(fixed_price(service, entry))
    price = f"Costs {cost} credits a run." if cost is not None else "The cost depends on the input."
    body: Schema = {
        "type": "object",
        "properties": {"input": _ref(f"ServiceInput.{entry.slug}")},
        "additionalProperties": False,
    }
    if input_schema.get("required"):
        body["required"] = ["input"]
    return {
        **generic,
        "requestBody": {
            "required": bool(input_schema.get("required")),
            "content": {
                "application/json": {
                    "schema": body,
                    "example": {"input": example(input_schema)},
                }
            },
        },
        "operationId": "run_" + entry.slug.replace("-", "_"),
        "summary": f"Run {entry.name}",
        "description": "\n\n".join(part for part in (entry.description, price) if part),
        "parameters": [p for p in generic["parameters"] if p["in"] != "path"],
        "x-service": entry.slug,
        "x-cost": cost,
    }
