"""The system checks of ``quickscale.api`` about the key middleware and jsonschema."""

from __future__ import annotations

import importlib.util

import pytest
from django.test import override_settings

from quickscale.api.checks import (
    AUTH_MIDDLEWARE,
    KEY_MIDDLEWARE,
    check_jsonschema,
    check_middleware,
)

SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"


def test_the_test_project_passes() -> None:
    assert check_middleware() == []


@override_settings(MIDDLEWARE=[SESSIONS, AUTH_MIDDLEWARE])
def test_a_missing_key_middleware_is_e007_saying_where_it_goes() -> None:
    [error] = check_middleware()

    assert error.id == "quickscale_api.E007"
    assert KEY_MIDDLEWARE in error.msg
    assert error.hint is not None and f"after {AUTH_MIDDLEWARE!r}" in error.hint


@override_settings(MIDDLEWARE=[SESSIONS, KEY_MIDDLEWARE, AUTH_MIDDLEWARE])
def test_the_key_middleware_before_django_authentication_is_e008() -> None:
    [error] = check_middleware()

    assert error.id == "quickscale_api.E008"


def test_jsonschema_installed_passes() -> None:
    assert check_jsonschema() == []


def test_jsonschema_missing_is_e010_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jsonschema" else real(name)
    )

    [error] = check_jsonschema()

    assert error.id == "quickscale_api.E010"
    assert error.hint is not None and "django-quickscale[api]" in error.hint
