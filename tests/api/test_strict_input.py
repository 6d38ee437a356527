"""A run's input is checked against the JSON Schema the document publishes for its service,
before anything runs or is charged: a wrong JSON type is a 400 naming the field and the type
expected, never coerced by the form into a charged run."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from jsonschema import Draft202012Validator

from quickscale.api.schema import form_schema
from quickscale.credits import ledger
from quickscale.services.base import BaseService, RunContext
from quickscale.services.models import ServiceRun
from quickscale.services.registry import registry
from tests.api.conftest import API, assert_error

URL = "/api/v1/services/typed/runs"


class TypedForm(forms.Form):
    text = forms.CharField(max_length=20)
    note = forms.CharField(required=False)
    count = forms.IntegerField(min_value=1, max_value=9)
    ratio = forms.FloatField(required=False)
    price = forms.DecimalField(required=False, max_digits=6, decimal_places=2)
    flag = forms.BooleanField(required=False)
    maybe = forms.NullBooleanField(required=False)
    colour = forms.ChoiceField(choices=[("red", "Red"), ("blue", "Blue")], required=False)
    tags = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")], required=False)
    day = forms.DateField(required=False)
    uuid = forms.UUIDField(required=False)


class Typed(BaseService):
    slug = "typed"
    name = "Typed"
    cost = Decimal("1.00")
    mode = "inline"
    input_form = TypedForm

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return {"text": data["text"], "count": data["count"]}


# Defining a service registers it; it is registered only while these tests run, so the catalog
# of every other test does not list it.
registry.unregister(Typed.slug)


@pytest.fixture(autouse=True)
def typed() -> Iterator[None]:
    registry.register(Typed)
    try:
        yield
    finally:
        registry.unregister(Typed.slug)


VALID = {"text": "hi", "count": 3}

#: A wrong JSON value for each kind of field, and the type the message names.
WRONG = [
    ("text", 12345, "a string"),
    ("text", True, "a string"),
    ("text", {"a": 1}, "a string"),
    ("text", ["x", "y"], "a string"),
    ("text", None, "a string"),
    ("note", 1.5, "a string"),
    ("count", "3", "an integer"),
    ("count", True, "an integer"),
    ("count", 3.5, "an integer"),
    ("count", [3], "an integer"),
    ("count", None, "an integer"),
    ("ratio", "0.5", "a number"),
    ("ratio", False, "a number"),
    ("price", "1.50", "a number"),
    ("price", {"amount": 1}, "a number"),
    ("flag", "true", "a boolean"),
    ("flag", 1, "a boolean"),
    ("flag", "on", "a boolean"),
    ("maybe", "yes", "a boolean"),
    ("maybe", 0, "a boolean"),
    ("colour", 1, "one of"),
    ("colour", ["red"], "one of"),
    ("colour", "Red", "one of"),
    ("tags", "a", "an array"),
    ("tags", ["a", 1], "one of"),
    ("tags", ["a", "a"], "once"),
    ("day", 20250131, "a string"),
    ("day", "31/01/2025", "format date"),
    ("uuid", 123, "a string"),
    ("uuid", "not-a-uuid", "format uuid"),
]


@pytest.fixture
def balance_before(api: API, funded: Any) -> Decimal:
    return ledger.balance(funded).balance


@pytest.mark.parametrize(("field", "value", "expected"), WRONG)
def test_a_wrong_json_type_is_a_400_and_charges_nothing(
    api: API, funded: Any, balance_before: Decimal, field: str, value: Any, expected: str
) -> None:
    response = api.post(URL, {"input": {**VALID, field: value}})

    error = assert_error(response, 400, "invalid_input")
    assert list(error["details"]) == [field]
    assert expected in " ".join(error["details"][field])
    assert field in error["message"]
    assert ledger.balance(funded).balance == balance_before
    assert not ServiceRun.objects.exists()


def test_the_message_names_the_type_expected_and_the_type_sent(api: API) -> None:
    error = assert_error(api.post(URL, {"input": {**VALID, "text": 12345}}), 400, "invalid_input")

    assert error["details"] == {"text": ["Expected a string, got an integer."]}
    assert error["message"] == "The input is invalid: text: Expected a string, got an integer."


def test_every_wrong_field_is_named_at_once(api: API) -> None:
    error = assert_error(
        api.post(URL, {"input": {"text": 1, "count": "3", "flag": "no"}}), 400, "invalid_input"
    )

    assert set(error["details"]) == {"text", "count", "flag"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("text", "", "This field is required."),
        ("text", "   \n\t", "This field is required."),
        ("text", "\u3000", "This field is required."),
        ("text", "a\x00b", "The text must not contain a NUL character."),
        ("note", "\x00", "The text must not contain a NUL character."),
        ("text", "x" * 21, "Expected at most 20 characters."),
        ("count", 0, "Expected at least 1."),
        ("count", 10, "Expected at most 9."),
        ("ratio", 10**400, "Expected at most 1.7976931348623157e+308."),
        ("ratio", -(10**400), "Expected at least -1.7976931348623157e+308."),
        ("price", 10_000, "Expected less than 10000."),
        ("price", -10_000, "Expected more than -10000."),
        ("unknown", 1, "Unknown field: the input has no such field."),
    ],
)
def test_what_the_schema_refuses_is_a_400(
    api: API, funded: Any, field: str, value: Any, message: str
) -> None:
    error = assert_error(api.post(URL, {"input": {**VALID, field: value}}), 400, "invalid_input")

    assert error["details"] == {field: [message]}
    assert not ServiceRun.objects.exists()


def test_a_missing_required_field_is_named(api: API) -> None:
    error = assert_error(api.post(URL, {"input": {"text": "hi"}}), 400, "invalid_input")

    assert error["details"] == {"count": ["This field is required."]}


@pytest.mark.parametrize("input", [[], "text", 5, None, True])
def test_an_input_that_is_not_an_object_is_a_400(api: API, input: Any) -> None:
    error = assert_error(api.post(URL, {"input": input}), 400, "invalid_input")

    assert list(error["details"]) == ["__all__"]
    assert "an object" in error["details"]["__all__"][0]


@pytest.mark.parametrize(
    "input",
    [
        VALID,
        {**VALID, "count": 3.0},  # an integer to JSON Schema, and to the form
        {**VALID, "text": "  padded  ", "note": ""},
        {
            **VALID,
            "ratio": 1,
            "price": 1.5,
            "flag": False,
            "maybe": None,
            "colour": "blue",
            "tags": ["a", "b"],
            "day": "2025-01-31",
            "uuid": "123e4567-e89b-12d3-a456-426614174000",
        },
    ],
)
def test_the_right_types_run_and_are_charged(
    api: API, funded: Any, balance_before: Decimal, input: dict[str, Any]
) -> None:
    response = api.post(URL, {"input": input})

    assert response.status_code == 201, response.content
    assert ledger.balance(funded).balance == balance_before - 1


@pytest.mark.parametrize(("field", "value", "expected"), WRONG)
def test_the_published_schema_refuses_what_the_api_refuses(
    field: str, value: Any, expected: str
) -> None:
    schema = form_schema(TypedForm)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    assert validator.is_valid(VALID)
    assert not validator.is_valid({**VALID, field: value})
