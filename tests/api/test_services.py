"""``GET /api/v1/services``: the catalog, and input schemas derived from the services' forms."""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django import forms

from quickscale.api.schema import NO_NUL_PATTERN, NOT_BLANK_PATTERN, example, form_schema
from quickscale.services.execution import sync_catalog
from quickscale.services.models import Service
from tests.api.conftest import API

URL = "/api/v1/services"


def catalog(api: API) -> dict[str, dict[str, Any]]:
    response = api.get(URL)
    assert response.status_code == 200
    return {service["slug"]: service for service in response.json()["data"]}


def test_the_catalog_lists_every_enabled_service_with_its_terms(api: API) -> None:
    echo = catalog(api)["echo"]

    assert echo == {
        "slug": "echo",
        "name": "Echo",
        "description": "Returns its input.",
        "cost": "2.00",
        "mode": "held",
        "async": False,
        "available": True,
        "input_schema": {
            "type": "object",
            "properties": {
                "text": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 10_000,
                    "pattern": NOT_BLANK_PATTERN,
                    "title": "Text",
                }
            },
            "required": ["text"],
            "additionalProperties": False,
        },
    }


def test_the_catalog_tells_inline_async_and_unavailable_services_apart(api: API) -> None:
    services = catalog(api)

    assert services["word-count"]["mode"] == "inline"
    assert services["async-sleeper"]["async"] is True
    assert services["needs-key"]["available"] is False


def test_a_disabled_service_is_not_listed(api: API) -> None:
    sync_catalog()
    Service.objects.filter(slug="echo").update(enabled=False)

    assert "echo" not in catalog(api)


def test_the_cost_is_null_when_it_depends_on_the_input(api: API) -> None:
    assert catalog(api)["per-word"]["cost"] is None


def test_a_staff_price_override_is_the_cost(api: API) -> None:
    sync_catalog()
    Service.objects.filter(slug="per-word").update(price_override=Decimal("0.5"))
    Service.objects.filter(slug="echo").update(price_override=0)

    services = catalog(api)

    assert services["per-word"]["cost"] == "0.50"
    assert services["echo"]["cost"] == "0.00"


def test_a_service_without_a_form_takes_any_object(api: API) -> None:
    assert catalog(api)["free"]["input_schema"]["type"] == "object"
    assert "properties" not in catalog(api)["free"]["input_schema"]


class EveryField(forms.Form):
    name = forms.CharField(min_length=2, max_length=5, help_text="Who")
    note = forms.CharField(required=False)
    email = forms.EmailField()
    site = forms.URLField(required=False, assume_scheme="https")
    count = forms.IntegerField(min_value=1, max_value=9, initial=3)
    ratio = forms.FloatField(min_value=0.5)
    price = forms.DecimalField(max_value=Decimal("9.99"))
    agree = forms.BooleanField()
    maybe = forms.NullBooleanField(required=False)
    colour = forms.ChoiceField(choices=[("", "---"), ("red", "Red"), ("Dark", [("navy", "Navy")])])
    size = forms.TypedChoiceField(choices=[(1, "S"), (2, "M")], coerce=int)
    tags = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")])
    day = forms.DateField()
    at = forms.DateTimeField(required=False)
    time = forms.TimeField(required=False)
    uuid = forms.UUIDField(required=False)
    extra = forms.JSONField(required=False)
    upload = forms.FileField(required=False)


@pytest.mark.parametrize(
    ("field", "schema"),
    [
        (
            "name",
            {
                "type": "string",
                "minLength": 2,
                "maxLength": 5,
                "pattern": NOT_BLANK_PATTERN,
                "description": "Who",
            },
        ),
        ("note", {"type": "string", "pattern": NO_NUL_PATTERN}),
        (
            "email",
            {
                "type": "string",
                "format": "email",
                "minLength": 1,
                "maxLength": 320,
                "pattern": NOT_BLANK_PATTERN,
            },
        ),
        ("site", {"type": "string", "format": "uri", "pattern": NO_NUL_PATTERN}),
        ("count", {"type": "integer", "minimum": 1, "maximum": 9, "default": 3}),
        ("ratio", {"type": "number", "minimum": 0.5, "maximum": sys.float_info.max}),
        ("price", {"type": "number", "maximum": 9.99}),
        ("agree", {"type": "boolean", "const": True}),
        ("maybe", {"type": ["boolean", "null"]}),
        ("colour", {"enum": ["red", "navy"]}),
        ("size", {"enum": [1, 2]}),
        (
            "tags",
            {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": True, "minItems": 1},
        ),
        ("day", {"type": "string", "format": "date"}),
        ("at", {"type": "string", "format": "date-time"}),
        ("time", {"type": "string", "format": "time"}),
        ("uuid", {"type": "string", "format": "uuid"}),
        ("extra", {}),
        ("upload", {"description": "A FileField value."}),
    ],
)
def test_each_form_field_becomes_its_json_schema(field: str, schema: dict[str, Any]) -> None:
    described = form_schema(EveryField)["properties"][field]
    described.pop("title")

    assert described == schema


def test_required_fields_are_listed_as_required() -> None:
    assert form_schema(EveryField)["required"] == [
        "name",
        "email",
        "count",
        "ratio",
        "price",
        "agree",
        "colour",
        "size",
        "tags",
        "day",
    ]


def test_the_example_input_of_a_schema_passes_the_form() -> None:
    data = example(form_schema(EveryField))

    form = EveryField(data=data)
    assert form.is_valid(), form.errors


def test_the_catalog_needs_no_write_scope(make_api: Callable[..., API], user: Any) -> None:
    assert make_api(user, scopes=["services:read"]).get(URL).status_code == 200
