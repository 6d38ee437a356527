"""Fixtures of the API tests: a funded user, keys with scopes, and a client that sends them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from quickscale.apikeys.keys import create_key
from quickscale.apikeys.scopes import SCOPES
from quickscale.credits import ledger

ALL_SCOPES = sorted(SCOPES)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache: every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


class API:
    """Django's test client with a key in ``Authorization``, and JSON bodies."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str]) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**auth, **extra}

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(path, params, headers=self.headers(headers or {}))

    def post(
        self,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        if body is None:
            data = ""
        return self.client.post(
            path, data, content_type=content_type, headers=self.headers(headers or {})
        )

    def run(self, slug: str, input: Any = None, key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        return self.post(f"/api/v1/services/{slug}/runs", {"input": input or {}}, headers)


@pytest.fixture
def make_api(client: Client) -> Callable[..., API]:
    """An API client for ``user`` with a new key holding ``scopes`` (all the API's scopes by
    default)."""

    def make(user: Any, scopes: list[str] | None = None, **key_options: Any) -> API:
        _, token = create_key(
            user, "test", scopes=ALL_SCOPES if scopes is None else scopes, **key_options
        )
        return API(client, token)

    return make


@pytest.fixture
def funded(user: Any) -> Any:
    """A user with 20 purchased credits."""
    ledger.grant(user, 20, source="purchase")
    return user


@pytest.fixture
def api(make_api: Callable[..., API], funded: Any) -> API:
    """The funded user's client, with every scope."""
    return make_api(funded)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an error of the one shape with ``status`` and ``code``; returns it."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error
