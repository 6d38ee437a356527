"""The registry check names each broken service class."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django import forms

from quickscale.services.base import BaseService
from quickscale.services.checks import check_registry
from quickscale.services.registry import registry


@pytest.fixture
def clean_registry() -> Iterator[None]:
    before = {service.slug for service in registry.all()}
    duplicates = list(registry.duplicates)
    yield
    for service in registry.all():
        if service.slug not in before:
            registry.unregister(service.slug)
    registry.duplicates[:] = duplicates


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


def test_the_registered_services_pass(clean_registry: None) -> None:
    assert check_registry() == []


def test_two_classes_with_one_slug_are_reported(clean_registry: None) -> None:
    class First(BaseService):
        slug = "twin"

        def run(self, ctx: Any, data: Any) -> Any:
            return {}

    class Second(BaseService):
        slug = "twin"

        def run(self, ctx: Any, data: Any) -> Any:
            return {}

    messages = check_registry()

    assert ids(messages) == ["quickscale_services.E004"]
    assert "First" in messages[0].msg and "Second" in messages[0].msg


@pytest.mark.parametrize(
    ("attributes", "says"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"cost": Decimal(-1)}, "cost"),
        ({"cost": 1.5}, "cost"),
        ({"mode": "later"}, "mode"),
        ({"mode": "inline", "run_async": True}, "run_async"),
        ({"input_form": dict}, "input_form"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_an_invalid_service_class_is_reported(
    clean_registry: None, attributes: dict[str, Any], says: str
) -> None:
    namespace: dict[str, Any] = {"slug": "broken", "run": lambda self, ctx, data: {}}
    namespace.update(attributes)
    type("Broken", (BaseService,), namespace)

    messages = check_registry()

    assert ids(messages) == ["quickscale_services.E005"]
    assert says in messages[0].msg


def test_a_service_without_run_is_reported(clean_registry: None) -> None:
    class NoRun(BaseService):
        slug = "no-run"
        input_form = forms.Form

    assert ids(check_registry()) == ["quickscale_services.E005"]


def test_abstract_bases_and_classes_without_slug_are_not_registered(
    clean_registry: None,
) -> None:
    class Base(BaseService):
        abstract = True
        slug = "base"

    class NoSlug(BaseService):
        pass

    assert "base" not in {service.slug for service in registry.all()}
    assert check_registry() == []
