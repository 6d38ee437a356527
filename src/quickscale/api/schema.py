"""JSON Schema of a service's input, derived from the fields of its Django form.

The form stays the one definition of the input: it validates every run. The API first checks
the JSON types against this schema (``quickscale.api.validation``), so the schema says what the
API refuses: a string field takes only a JSON string (no NUL character, as Django refuses; not
blank when required and stripped), an integer field only a JSON integer (``3.0`` is one, as
JSON Schema says; ``"3"`` and ``true`` are not), a boolean field only ``true`` or ``false``, a
choice only one of its values as the form lists them, and a form's input no field the form does
not have. Fields it does not know are described as "any value" with their label, never left
out, so the schema never refuses what the form accepts on that field.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from django import forms
from django.forms.utils import pretty_name

Schema = dict[str, Any]

#: The characters ``str.strip`` removes (Python's whitespace), spelled out so that the pattern
#: means the same in every regular-expression dialect (ECMA-262's ``\s`` differs).
WHITESPACE = (
    r"\t\n\u000b\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Text without a NUL character (Django's ``CharField`` refuses it).
NO_NUL_PATTERN = r"^[^\u0000]*$"
#: Text without a NUL character and with at least one character that is not whitespace: the
#: leading whitespace, the first other character, the rest (disjoint classes: linear to match).
NOT_BLANK_PATTERN = rf"^[{WHITESPACE}]*[^\u0000{WHITESPACE}][^\u0000]*$"


def form_schema(form_class: type[forms.Form] | None) -> Schema:
    """The JSON Schema of a form's data: an object with one property per field."""
    if form_class is None:
        return {"type": "object", "description": "This service takes no input fields."}
    properties: dict[str, Schema] = {}
    required = []
    for name, field in form_class.base_fields.items():
        properties[name] = field_schema(name, field)
        if field.required:
            required.append(name)
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def field_schema(name: str, field: forms.Field) -> Schema:
    """The JSON Schema of one form field, with its label as the title, its help text as the
    description and its initial value as the default."""
    schema = _type_schema(field)
    if (
        field.required
        and isinstance(field, forms.BooleanField)
        and not isinstance(field, forms.NullBooleanField)
    ):
        schema["const"] = True  # Django's required checkbox must be ticked
    if field.required and isinstance(field, forms.MultipleChoiceField):
        schema["minItems"] = 1
    schema["title"] = str(field.label or pretty_name(name))
    if field.help_text:
        schema["description"] = str(field.help_text)
    initial = field.initial
    if initial is not None and not callable(initial) and _is_json(initial):
        schema["default"] = initial
    return schema


def _type_schema(field: forms.Field) -> Schema:
    # Subclasses before their bases: FloatField and DecimalField are IntegerFields, EmailField
    # and the like are CharFields, TypedChoiceField is a ChoiceField.
    if isinstance(field, forms.NullBooleanField):
        return {"type": ["boolean", "null"]}
    if isinstance(field, forms.BooleanField):
        return {"type": "boolean"}
    if isinstance(field, forms.MultipleChoiceField):
        return {"type": "array", "items": {"enum": _choices(field)}, "uniqueItems": True}
    if isinstance(field, forms.ChoiceField):
        return {"enum": _choices(field)}
    if isinstance(field, forms.FloatField):
        # Django converts to a float, which a larger JSON number overflows.
        largest = sys.float_info.max
        return {"minimum": -largest, "maximum": largest} | _bounds({"type": "number"}, field)
    if isinstance(field, forms.DecimalField):
        return _decimal_schema(field)
    if isinstance(field, forms.IntegerField):
        return _bounds({"type": "integer"}, field)
    if isinstance(field, forms.DateTimeField):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, forms.DateField):
        return {"type": "string", "format": "date"}
    if isinstance(field, forms.TimeField):
        return {"type": "string", "format": "time"}
    if isinstance(field, forms.UUIDField):
        return {"type": "string", "format": "uuid"}
    if isinstance(field, forms.JSONField):
        return {}
    if isinstance(field, forms.CharField):
        return _text_schema(field)
    return {"description": f"A {type(field).__name__} value."}


def _text_schema(field: forms.CharField) -> Schema:
    """A text field: Django refuses NUL in every ``CharField``, and a required one that strips
    its value refuses blank text."""
    schema: Schema = {"type": "string"}
    if isinstance(field, forms.EmailField):
        schema["format"] = "email"
    elif isinstance(field, forms.URLField):
        schema["format"] = "uri"
    blank_refused = field.required and field.strip
    schema["pattern"] = NOT_BLANK_PATTERN if blank_refused else NO_NUL_PATTERN
    minimum = max(field.min_length or 0, 1 if field.required else 0)
    if minimum:
        schema["minLength"] = minimum
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    return schema


def _decimal_schema(field: forms.DecimalField) -> Schema:
    """A decimal field: its digits before the point bound its magnitude; the places after the
    point are said in ``x-decimal-places`` (``multipleOf`` is not exact on binary floats) and
    checked by the form."""
    schema = _bounds({"type": "number"}, field)
    digits, places = field.max_digits, field.decimal_places
    if digits is not None:
        whole = 10 ** (digits - (places or 0))
        schema["exclusiveMinimum"], schema["exclusiveMaximum"] = -whole, whole
    if places is not None:
        schema["x-decimal-places"] = places
    return schema


def _bounds(schema: Schema, field: forms.IntegerField) -> Schema:
    for key, value in (("minimum", field.min_value), ("maximum", field.max_value)):
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            schema[key] = value if isinstance(value, int) else float(value)
    return schema


def _choices(field: forms.ChoiceField) -> list[Any]:
    """The values a choice field accepts, groups flattened; the empty choice is left out."""
    values: list[Any] = []
    for value, label in field.choices:  # type: ignore[union-attr]
        if isinstance(label, (list, tuple)):
            values.extend(inner for inner, _ in label)
        else:
            values.append(value)
    return [value for value in values if value not in ("", None) and _is_json(value)]


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def example(schema: Schema) -> Any:
    """A value the schema accepts, for the docs page's example requests."""
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0] if schema["enum"] else None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        properties = schema.get("properties", {})
        names = schema.get("required") or list(properties)
        return {name: example(properties[name]) for name in names}
    if kind == "array":
        items = schema.get("items", {})
        return [example(items)] if items.get("enum") else []
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        low: float = schema.get("minimum", 1)
        value = min(low, schema.get("maximum", low))
        return int(value) if kind == "integer" else value
    if kind == "string":
        formats = {
            "date": "2025-01-31",
            "date-time": "2025-01-31T12:00:00Z",
            "time": "12:00:00",
            "uuid": "123e4567-e89b-12d3-a456-426614174000",
            "email": "someone@example.com",
            "uri": "https://example.com/",
        }
        if schema.get("format") in formats:
            return formats[schema["format"]]
        text = "Hello, world"
        text = text[: schema.get("maxLength", len(text))]
        return text.ljust(schema.get("minLength", 0), "x")
    return None
