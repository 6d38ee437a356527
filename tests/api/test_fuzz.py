"""Whatever a client sends, the API never answers 500, and every error has the one shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quickscale.api.pagination import encode_cursor
from quickscale.services.execution import execute
from tests.api.conftest import API

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: What a real server passes in a header: printable Latin-1, no control characters.
header_text = st.text(
    alphabet=st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=40
)
segment = st.text(max_size=12).map(lambda text: quote(text, safe=""))
#: Services that finish at once (``sleeper`` really sleeps), and slugs of no service.
known_slugs = st.sampled_from(
    [
        "echo",
        "word-count",
        "per-word",
        "free",
        "explodes",
        "explodes-inline",
        "unserialisable",
        "needs-key",
        "inline-discount",
        "loses-its-hold",
        "async-sleeper",
        "no-such-service",
    ]
)
slugs = known_slugs | segment.filter(lambda text: text not in ("", "sleeper"))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
inputs = json_values | st.fixed_dictionaries(
    {}, optional={"text": json_values | st.text(), "seconds": json_values}
)
bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    inputs.map(lambda value: json.dumps({"input": value}).encode()),
    st.dictionaries(st.text(max_size=8), json_values, max_size=3).map(
        lambda value: json.dumps(value).encode()
    ),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "APPLICATION/JSON",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz/;=+.- ", max_size=30)
query_values = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.integers(min_value=0, max_value=2**64).map(lambda n: encode_cursor("tx", n)),
    st.integers(min_value=0, max_value=2**64).map(lambda n: encode_cursor("run", n)),
    st.dates().map(str),
)
queries = st.dictionaries(
    st.sampled_from(["limit", "cursor", "since", "other"]), query_values, max_size=3
)


ENDPOINTS = [
    "/api/v1/credits/balance",
    "/api/v1/credits/transactions",
    "/api/v1/services",
    "/api/v1/runs",
    "/api/v1/usage",
    "/api/v1/openapi.json",
    "/api/docs/",
]
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])


def authorizations(tokens: list[str]) -> st.SearchStrategy[str | None]:
    """A valid key, one without scopes, none, or anything."""
    return st.sampled_from(tokens).map(lambda t: f"Bearer {t}") | st.none() | header_text


def assert_answered(response: Any, method: str, path: str) -> None:
    assert response.status_code < 500, (method, path, response.content[:500])
    if response.status_code >= 400 and method != "HEAD":
        assert response["Content-Type"] == "application/json", (method, path)
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "details"}
        assert isinstance(body["error"]["code"], str)


def send(
    client: Client,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: bytes = b"",
    content_type: str = "application/json",
    authorization: str | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Send one request with fresh rate-limit counters; check it was answered properly."""
    cache.clear()
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    url = f"{path}?{urlencode(query)}" if query else path
    response = client.generic(method, url, body, content_type=content_type, headers=headers)
    assert_answered(response, method, path)


def test_no_query_or_key_gets_a_500(
    client: Client, make_api: Callable[..., API], funded: Any
) -> None:
    tokens = [make_api(funded).token, make_api(funded, scopes=[]).token]

    @FUZZ
    @given(
        path=st.sampled_from(ENDPOINTS),
        query=queries,
        authorization=authorizations(tokens),
    )
    def request(path: str, query: dict[str, str], authorization: str | None) -> None:
        send(client, "GET", path, query=query, authorization=authorization)

    request()


def test_no_address_or_method_gets_a_500(
    client: Client, make_api: Callable[..., API], funded: Any, make_user: Callable[..., Any]
) -> None:
    tokens = [make_api(funded).token, make_api(funded, scopes=[]).token]
    theirs = execute(make_user(), "free", {}).pk
    mine = execute(funded, "free", {}).pk

    @FUZZ
    @given(
        method=methods,
        path=st.one_of(
            st.sampled_from([*ENDPOINTS, f"/api/v1/runs/{theirs}", f"/api/v1/runs/{mine}"]),
            slugs.map(lambda slug: f"/api/v1/services/{slug}/runs"),
            segment.map(lambda text: f"/api/v1/runs/{text}"),
            st.lists(segment, max_size=3).map(lambda parts: "/api/v1/" + "/".join(parts)),
        ),
        authorization=authorizations(tokens),
    )
    def request(method: str, path: str, authorization: str | None) -> None:
        send(client, method, path, authorization=authorization)

    request()


def test_no_run_request_gets_a_500(api: API, client: Client) -> None:
    @FUZZ
    @given(
        slug=known_slugs,
        body=bodies,
        content_type=content_types,
        idempotency_key=st.none() | header_text,
    )
    def run(slug: str, body: bytes, content_type: str, idempotency_key: str | None) -> None:
        send(
            client,
            "POST",
            f"/api/v1/services/{slug}/runs",
            body=body,
            content_type=content_type,
            authorization=f"Bearer {api.token}",
            idempotency_key=idempotency_key,
        )

    run()
