"""The OpenAPI 3.1 document of the API, generated from the code at request time.

Paths come from ``quickscale.api.urls``, each operation from its ``api_view`` declaration, the
errors from the exception classes and the request bodies from the enabled services' forms, so
a new service or a staff change in the catalog shows in the document at once.
"""

from __future__ import annotations

import re
from typing import Any

from django.urls import URLPattern, reverse

from quickscale.api.components import (
    CACHE_CONTROL,
    ERROR_DETAILS,
    ERROR_HEADERS,
    ERRORS,
    EXAMPLES,
    SCHEMAS,
    VERSION,
    ref,
)
from quickscale.api.decorators import Operation, Parameter
from quickscale.api.errors import (
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
from quickscale.services.base import BaseService
from quickscale.services.execution import enabled_services, fixed_price
from quickscale.services.models import Service

ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
CONVERTER_SCHEMAS: dict[str, Schema] = {
    "int": {"type": "integer", "minimum": 0},
    "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "uuid": {"type": "string", "format": "uuid"},
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
        generic_input["anyOf"] = [ref(f"ServiceInput.{e.slug}") for _, e in services]
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
                    "schema": ref(operation.body),
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
                    "required": header.required,
                    "schema": dict(header.schema),
                }
        response: dict[str, Any] = {"description": description, "headers": headers}
        if operation.response is not None:
            content: dict[str, Any] = {"schema": ref(operation.response)}
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
            "content": {"application/json": {"schema": ref("Error"), "examples": examples}},
        }
        if status in ERROR_HEADERS:
            name, meaning, schema = ERROR_HEADERS[status]
            response["headers"][name] = {
                "description": meaning,
                "required": True,
                "schema": schema,
            }
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
        "properties": {"input": ref(f"ServiceInput.{entry.slug}")},
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
