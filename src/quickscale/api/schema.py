"""JSON Schema of a service's input, derived from the fields of its Django form.

The form stays the one definition of the input: it validates every run, and this module only
describes it. Fields it does not know are described as "any value" with their label, never
left out, so the schema never refuses what the form accepts.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.forms.utils import pretty_name

Schema = dict[str, Any]


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
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def field_schema(name: str, field: forms.Field) -> Schema:
    """The JSON Schema of one form field, with its label as the title, its help text as the
    description and its initial value as the default."""
    schema = _type_schema(field)
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
    if isinstance(field, (forms.FloatField, forms.DecimalField)):
        return _bounds({"type": "number"}, field)
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
        schema: Schema = {"type": "string"}
        if isinstance(field, forms.EmailField):
            schema["format"] = "email"
        elif isinstance(field, forms.URLField):
            schema["format"] = "uri"
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        if field.min_length is not None:
            schema["minLength"] = field.min_length
        return schema
    return {"description": f"A {type(field).__name__} value."}


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
