"""The API's HTML documentation page, read from the OpenAPI document
(:func:`quickscale.api.openapi.document`), so the page shows exactly what the document says:
its endpoints with a ``curl`` line each, every enabled service with its input fields, and the
error codes."""

from __future__ import annotations

import json
import re
import shlex
import sys
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from quickscale.api.components import ERRORS
from quickscale.api.schema import Schema, example


def page_context(document: dict[str, Any], base_url: str, openapi_url: str) -> dict[str, Any]:
    """What the HTML docs page shows, read from the OpenAPI document (so the page documents
    exactly what the document says); ``openapi_url`` is where the document itself is served."""
    base_url = base_url.rstrip("/")
    endpoints, services = [], []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if "x-service" in operation:
                services.append(_service_context(document, path, method, operation, base_url))
            else:
                endpoints.append(_endpoint_context(path, method, operation, base_url))
    return {
        "title": document["info"]["title"],
        "description": markup(document["info"]["description"]),
        "openapi_url": openapi_url,
        "endpoints": endpoints,
        "services": services,
        "errors": [
            {"code": error.code, "status": error.status, "meaning": markup(meaning, inline=True)}
            for error, meaning in sorted(ERRORS, key=lambda item: item[0].status)
        ],
    }


def _endpoint_context(
    path: str, method: str, operation: dict[str, Any], base_url: str
) -> dict[str, Any]:
    scope = operation.get("x-scope")
    example_path = path
    for parameter in operation["parameters"]:
        if parameter["in"] == "path":
            value = example(parameter["schema"]) if "enum" in parameter["schema"] else 1
            example_path = example_path.replace("{" + parameter["name"] + "}", str(value))
    command = ["curl"]
    if method != "get":
        command += ["-X", method.upper()]
    if scope:
        command += ["-H", "Authorization: Bearer $QUICKSCALE_API_KEY"]
    return {
        "id": operation["operationId"],
        "method": method.upper(),
        "path": path,
        "summary": operation["summary"],
        "description": markup(operation["description"]),
        "scope": scope,
        "parameters": [
            {
                "name": p["name"],
                "location": p["in"],
                "required": p["required"],
                "type": _type_name(p["schema"]),
                "description": markup(p["description"], inline=True),
            }
            for p in operation["parameters"]
        ],
        "responses": [
            {"status": status, "description": markup(response["description"], inline=True)}
            for status, response in operation["responses"].items()
        ],
        "curl": _shell(command, base_url + example_path),
    }


def _service_context(
    document: dict[str, Any], path: str, method: str, operation: dict[str, Any], base_url: str
) -> dict[str, Any]:
    slug = operation["x-service"]
    schema = document["components"]["schemas"][f"ServiceInput.{slug}"]
    required = set(schema.get("required", []))
    body = json.dumps({"input": example(schema)})
    command = [
        "curl",
        "-X",
        method.upper(),
        "-H",
        "Authorization: Bearer $QUICKSCALE_API_KEY",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Idempotency-Key: $(uuidgen)",
        "-d",
        body,
    ]
    return {
        "slug": slug,
        "name": schema["title"].removesuffix(" input"),
        "summary": operation["summary"],
        "description": markup(operation["description"]),
        "cost": operation["x-cost"],
        "path": path,
        "fields": [
            {
                "name": name,
                "required": name in required,
                "type": _type_name(field),
                "constraints": _constraints(field),
                "description": field.get("description") or field.get("title", ""),
            }
            for name, field in schema.get("properties", {}).items()
        ],
        "curl": _shell(command, base_url + path),
    }


def markup(text: str, *, inline: bool = False) -> SafeString:
    """The document's descriptions as HTML: escaped, `code` marked, and paragraphs kept (as
    line breaks ``inline``, for table cells)."""
    paragraphs = [
        re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(part).replace("\n", " "))
        for part in text.split("\n\n")
        if part.strip()
    ]
    if inline:
        return mark_safe("<br>".join(paragraphs))  # noqa: S308 (escaped above)
    return mark_safe("".join(f"<p>{part}</p>" for part in paragraphs))  # noqa: S308


def _type_name(schema: Schema) -> str:
    """The JSON type of ``schema`` in words: the type names stay JSON's, the words are
    translated."""
    if "enum" in schema:
        values = ", ".join(json.dumps(value) for value in schema["enum"])
        return gettext("one of %(values)s") % {"values": values}
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = gettext(" or ").join(kind)
    if schema.get("format"):
        kind = f"{kind} ({schema['format']})"
    if kind == "array" and "items" in schema:
        return gettext("list of %(kind)s") % {"kind": _type_name(schema["items"])}
    return str(kind)


def _constraints(schema: Schema) -> str:
    """The bounds of ``schema`` in words."""
    shown = []
    for key in ("minLength", "maxLength", "minimum", "maximum"):
        value = schema.get(key)
        # The bounds of any float (a FloatField's) say nothing a reader needs.
        if value is None or (isinstance(value, float) and abs(value) >= sys.float_info.max):
            continue
        if key == "minLength":
            text = ngettext("at least %(count)s character", "at least %(count)s characters", value)
        elif key == "maxLength":
            text = ngettext("at most %(count)s character", "at most %(count)s characters", value)
        elif key == "minimum":
            text = gettext("at least %(count)s")
        else:
            text = gettext("at most %(count)s")
        shown.append(text % {"count": value})
    return ", ".join(shown)


def _shell(command: list[str], url: str) -> str:
    """A copyable command; ``$VARIABLES`` and ``$(commands)`` are left for the shell."""
    parts = []
    for word in [*command, url]:
        if "$" in word and not set(word) & set('"`\\'):
            parts.append(f'"{word}"')
        else:
            parts.append(shlex.quote(word))
    return " ".join(parts)
