"""Checking JSON against the schemas the OpenAPI document publishes, before anything runs.

The API validates a run's ``input`` with the very schema the document shows for the service
(``quickscale.api.schema.form_schema``), with ``jsonschema``'s Draft 2020-12 validator (the
dialect of OpenAPI 3.1), so a wrong JSON type is refused with 400 before the service's form
sees it, and nothing is charged. The form still validates the values afterwards.

Errors name each field in ``details`` (``{"text": ["Expected a string, got an integer."]}``;
``"__all__"`` for the whole input) with messages marked for translation.

Formats are checked where Python checks them without extra packages (``date``, ``uuid``,
``email``); ``date-time`` and ``time`` are left to the form.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext, ngettext

from quickscale.api.schema import Schema
from quickscale.services.exceptions import InvalidInput

#: The formats checked by the schema (Python checks them without extra packages).
FORMATS = ("date", "uuid", "email")
#: The key of ``details`` for an error of the whole input rather than one field.
WHOLE = "__all__"


def _type_names() -> dict[str, str]:
    return {
        "string": gettext("a string"),
        "integer": gettext("an integer"),
        "number": gettext("a number"),
        "boolean": gettext("a boolean (true or false)"),
        "object": gettext("an object"),
        "array": gettext("an array"),
        "null": gettext("null"),
    }


def json_type(value: Any) -> str:
    """The JSON type of a parsed JSON value: ``string``, ``integer``, ``number``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@lru_cache(maxsize=1)
def _format_checker() -> Any:
    from jsonschema import FormatChecker  # type: ignore[import-untyped]

    return FormatChecker(formats=FORMATS)


def problems(instance: Any, schema: Schema) -> dict[str, list[str]]:
    """What is wrong with ``instance`` by ``schema``, field by field (empty when valid)."""
    # Imported here: jsonschema comes with the ``api`` extra, and without it the site still
    # starts, for the system check quickscale_api.E010 to say what is missing.
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema, format_checker=_format_checker())
    found: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        for name, message in _explain(error):
            messages = found.setdefault(name, [])
            if message not in messages:
                messages.append(message)
    return found


def _explain(error: Any) -> list[tuple[str, str]]:
    """The fields an error is about and its message for people."""
    path = list(error.absolute_path)
    name = str(path[0]) if path else WHOLE
    value = error.instance
    kind = error.validator
    limit = error.validator_value
    if kind == "required":
        return [
            (str(missing), gettext("This field is required."))
            for missing in limit
            if isinstance(value, dict) and missing not in value
        ]
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        return [
            (str(extra), gettext("Unknown field: the input has no such field."))
            for extra in sorted(value)
            if extra not in known
        ]
    prefix = ""
    if len(path) > 1:
        prefix = gettext("Item %(index)s: ") % {"index": path[-1]} if len(path) == 2 else ""
    return [(name, prefix + _message(kind, limit, value))]


def _message(kind: str, limit: Any, value: Any) -> str:
    names = _type_names()
    if kind == "type":
        expected = limit if isinstance(limit, list) else [limit]
        return gettext("Expected %(expected)s, got %(actual)s.") % {
            "expected": gettext(" or ").join(names.get(str(t), str(t)) for t in expected),
            "actual": names[json_type(value)],
        }
    if kind == "enum":
        return gettext("Expected one of %(choices)s.") % {
            "choices": ", ".join(_json(choice) for choice in limit)
        }
    if kind == "const":
        return gettext("Expected %(value)s.") % {"value": _json(limit)}
    if kind in ("pattern", "minLength") and isinstance(value, str):
        if "\x00" in value:
            return gettext("The text must not contain a NUL character.")
        if not value.strip() and (kind == "pattern" or limit == 1):
            return gettext("This field is required.")  # blank text, as Django says it
    if kind == "minLength":
        return ngettext(
            "Expected at least %(count)s character.",
            "Expected at least %(count)s characters.",
            limit,
        ) % {"count": limit}
    if kind == "maxLength":
        return ngettext(
            "Expected at most %(count)s character.",
            "Expected at most %(count)s characters.",
            limit,
        ) % {"count": limit}
    if kind == "minimum":
        return gettext("Expected at least %(limit)s.") % {"limit": limit}
    if kind == "maximum":
        return gettext("Expected at most %(limit)s.") % {"limit": limit}
    if kind == "exclusiveMinimum":
        return gettext("Expected more than %(limit)s.") % {"limit": limit}
    if kind == "exclusiveMaximum":
        return gettext("Expected less than %(limit)s.") % {"limit": limit}
    if kind == "minItems":
        return ngettext(
            "Choose at least %(count)s value.", "Choose at least %(count)s values.", limit
        ) % {"count": limit}
    if kind == "uniqueItems":
        return gettext("Each value may be chosen once only.")
    if kind == "format":
        return gettext("Expected a value of the format %(format)s.") % {"format": limit}
    return gettext("The value does not match the schema (%(rule)s).") % {"rule": kind}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def check_input(instance: Any, schema: Schema) -> None:
    """Raise ``InvalidInput`` naming each field of ``instance`` that ``schema`` refuses."""
    found = problems(instance, schema)
    if found:
        raise InvalidInput(
            gettext("The input is invalid: %(problems)s") % {"problems": summary(found)},
            details=found,
        )


def summary(found: dict[str, list[str]]) -> str:
    """The problems in one line, for an error's message."""
    return "; ".join(
        f"{name}: {' '.join(messages)}" if name != WHOLE else " ".join(messages)
        for name, messages in found.items()
    )
