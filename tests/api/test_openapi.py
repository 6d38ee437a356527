"""The OpenAPI document and the docs page rendered from it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from quickscale.api import urls
from quickscale.api.schema import NOT_BLANK_PATTERN
from quickscale.services.execution import sync_catalog
from quickscale.services.models import Service
from quickscale.services.registry import registry
from tests.api.conftest import API, assert_error

OPENAPI = "/api/v1/openapi.json"
DOCS = "/api/docs/"


@pytest.fixture
def document(client: Client, db: None) -> dict[str, Any]:
    response = client.get(OPENAPI)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)

    assert document["openapi"].startswith("3.1")


def test_the_document_and_the_docs_need_no_key(client: Client, db: None) -> None:
    assert client.get(OPENAPI).status_code == 200
    assert client.get(DOCS).status_code == 200
    assert client.get(OPENAPI, headers={"Authorization": "Bearer nonsense"}).status_code == 200


def test_the_document_lists_every_endpoint(document: dict[str, Any]) -> None:
    routes = [
        (
            p.callback.operation.method.lower(),
            "/api/" + re.sub(r"<(\w+:)?(\w+)>", r"{\2}", str(p.pattern)),
        )
        for p in urls.urlpatterns
        if isinstance(p, URLPattern)
        and getattr(p.callback, "operation", None)
        and p.callback.operation.documented
    ]

    assert len(routes) == 8
    for method, path in routes:
        assert method in document["paths"][path], path


def test_the_document_has_a_run_endpoint_and_an_input_schema_per_enabled_service(
    document: dict[str, Any],
) -> None:
    enabled = [service.slug for service in registry.all()]
    schemas = document["components"]["schemas"]

    for slug in enabled:
        operation = document["paths"][f"/api/v1/services/{slug}/runs"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body["properties"]["input"] == {"$ref": f"#/components/schemas/ServiceInput.{slug}"}
        assert f"ServiceInput.{slug}" in schemas
    generic = document["paths"]["/api/v1/services/{slug}/runs"]["post"]
    [slug] = [p for p in generic["parameters"] if p["name"] == "slug"]
    assert slug["schema"]["enum"] == sorted(enabled, key=lambda s: registry.get(s).name)


def test_a_service_input_schema_is_the_one_of_its_form(document: dict[str, Any]) -> None:
    echo = document["components"]["schemas"]["ServiceInput.echo"]

    assert echo["properties"]["text"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 10_000,
        "pattern": NOT_BLANK_PATTERN,
        "title": "Text",
    }
    assert echo["required"] == ["text"]
    assert echo["additionalProperties"] is False


def test_a_disabled_service_is_left_out(client: Client, db: None) -> None:
    sync_catalog()
    Service.objects.filter(slug="echo").update(enabled=False)

    document = client.get(OPENAPI).json()

    assert "/api/v1/services/echo/runs" not in document["paths"]
    assert "ServiceInput.echo" not in document["components"]["schemas"]


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_error_response_has_the_error_schema(document: dict[str, Any]) -> None:
    error = {"$ref": "#/components/schemas/Error"}
    for name, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == error, name


def test_key_protected_endpoints_list_their_scope_and_auth_errors(
    document: dict[str, Any],
) -> None:
    for name, operation in operations(document):
        if "openapi.json" in name:
            assert operation["security"] == []
            continue
        scope = operation["x-scope"]
        assert operation["security"][0] == {"bearerAuth": [scope]}, name
        assert {"401", "403", "405", "429"} <= set(operation["responses"]), name


def test_every_endpoint_documents_the_503_of_a_database_that_cannot_be_reached(
    document: dict[str, Any],
) -> None:
    for name, operation in operations(document):
        unavailable = operation["responses"]["503"]
        assert "`database_unavailable`" in unavailable["description"], name
        assert set(unavailable["headers"]) == {"Cache-Control", "Retry-After"}, name


def test_every_endpoint_with_a_key_documents_the_503_of_rate_limits_that_cannot_count(
    document: dict[str, Any],
) -> None:
    for name, operation in operations(document):
        if operation["security"]:
            assert "`rate_limit_unavailable`" in operation["responses"]["503"]["description"], name


def test_the_run_endpoint_documents_each_of_its_statuses(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/services/{slug}/runs"]["post"]

    assert set(operation["responses"]) == {
        "201",
        "202",
        "400",
        "401",
        "402",
        "403",
        "404",
        "405",
        "409",
        "413",
        "415",
        "429",
        "503",
    }
    assert "`idempotency_conflict`" in operation["responses"]["409"]["description"]
    assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]


def test_list_endpoints_document_limit_and_cursor(document: dict[str, Any]) -> None:
    for path in ("/api/v1/credits/transactions", "/api/v1/runs"):
        names = [p["name"] for p in document["paths"][path]["get"]["parameters"]]
        assert names == ["limit", "cursor"]


def test_the_docs_page_shows_every_endpoint_and_service(client: Client, db: None) -> None:
    page = client.get(DOCS).content.decode()

    for text in [
        "GET /api/v1/credits/balance",
        "POST /api/v1/services/{slug}/runs",
        "GET /api/v1/runs/{run_id}",
        '<span class="qs-tag">credits:read</span>',
        "Returns its input.",  # echo's description
        "Costs 2.00 credits a run.",  # echo's cost
        "The cost depends on the input.",  # per-word
        '<code class="qs-code">text</code> (required)',
        "at most 10000 characters",
        '<code class="qs-code">insufficient_credits</code>',
    ]:
        assert text in page, text


def test_the_docs_page_gives_curl_commands_that_work_as_written(client: Client, db: None) -> None:
    page = client.get(DOCS).content.decode()

    assert (
        "curl -H &quot;Authorization: Bearer $QUICKSCALE_API_KEY&quot; "
        "http://testserver/api/v1/credits/balance"
    ) in page
    assert (
        "-d &#x27;{&quot;input&quot;: {&quot;text&quot;: &quot;Hello, world&quot;}}&#x27;" in page
    )


def test_the_docs_page_loads_nothing_from_elsewhere(client: Client, db: None) -> None:
    page = client.get(DOCS).content.decode()

    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert 'href="/static/quickscale/css/quickscale.css"' in page  # it extends quickscale/base.html


def test_a_host_can_override_the_docs_template(
    client: Client, db: None, settings: Any, tmp_path: Any
) -> None:
    (tmp_path / "quickscale" / "api").mkdir(parents=True)
    (tmp_path / "quickscale" / "api" / "docs.html").write_text(
        "{% for e in endpoints %}{{ e.method }} {{ e.path }};{% endfor %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]

    page = client.get(DOCS).content.decode()

    assert page.startswith("GET /api/v1/credits/balance;")


# -- the document says exactly what the API does ---------------------------------------------


def resolver(document: dict[str, Any]) -> Callable[[Any], bool]:
    """A check of a value against a schema of the document (``$ref``s resolved in it)."""
    doc = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", doc)

    def valid(schema: Any, value: Any) -> bool:
        text = json.dumps(schema).replace('"#/components', '"urn:openapi#/components')
        validator = Draft202012Validator(
            json.loads(text), registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = list(validator.iter_errors(value))
        return not errors

    return valid  # type: ignore[return-value]


def test_both_key_schemes_are_declared_and_either_is_enough(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]

    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyHeader"] == {
        **schemes["apiKeyHeader"],
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    for name, operation in operations(document):
        if operation["security"]:
            assert [set(option) for option in operation["security"]] == [
                {"bearerAuth"},
                {"apiKeyHeader"},
            ], name


def test_every_response_declares_the_headers_it_sends(document: dict[str, Any]) -> None:
    """Each header is declared where it is sent, and ``required`` where it is always sent (all
    but ``Idempotent-Replayed``, which only a replay has); schemathesis checks the live API
    against these declarations (``test_contract.py``)."""
    expected = {
        "401": "WWW-Authenticate",
        "405": "Allow",
        "429": "Retry-After",
        "503": "Retry-After",
    }
    seen = set()
    for name, operation in operations(document):
        for status, response in operation["responses"].items():
            headers = response["headers"]
            assert "Cache-Control" in headers, (name, status)
            if status in expected:
                assert expected[status] in headers, (name, status)
            if status in ("201", "202"):
                assert {"Location", "Idempotent-Replayed"} <= set(headers), name
            for header, declared in headers.items():
                assert declared["required"] is (header != "Idempotent-Replayed"), (name, header)
                seen.add(header)
            if "Retry-After" in headers:
                assert headers["Retry-After"]["schema"]["type"] == "integer", name
    assert seen == {*expected.values(), "Cache-Control", "Location", "Idempotent-Replayed"}


def test_every_request_success_and_error_has_an_example_its_schema_accepts(
    document: dict[str, Any],
) -> None:
    valid = resolver(document)
    for name, operation in operations(document):
        body = operation.get("requestBody")
        if body is not None:
            media = body["content"]["application/json"]
            assert valid(media["schema"], media["example"]), name
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                examples = [e["value"] for e in media.get("examples", {}).values()]
                if "example" in media:
                    examples.append(media["example"])
                assert examples, (name, status)
                for example in examples:
                    assert valid(media["schema"], example), (name, status, example)
                if int(status) >= 400:
                    codes = {e["value"]["error"]["code"] for e in media["examples"].values()}
                    documented = set(re.findall(r"`([a-z_]+)`:", response["description"]))
                    assert codes == documented, (name, status)


def test_the_example_of_each_service_run_is_accepted_by_the_api(
    document: dict[str, Any], api: API
) -> None:
    for slug in ("echo", "word-count", "free", "sleeper"):
        operation = document["paths"][f"/api/v1/services/{slug}/runs"]["post"]
        example = operation["requestBody"]["content"]["application/json"]["example"]
        response = api.post(f"/api/v1/services/{slug}/runs", example)
        assert response.status_code == 201, (slug, response.content)


def declared(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    [operation] = document["paths"][path].values()
    [parameter] = [p for p in operation["parameters"] if p["name"] == name]
    schema: dict[str, Any] = parameter["schema"]
    return schema


@pytest.mark.parametrize("path", ["/api/v1/credits/transactions", "/api/v1/runs"])
def test_the_bounds_of_limit_are_the_ones_enforced(
    document: dict[str, Any], api: API, path: str
) -> None:
    schema = declared(document, path, "limit")

    assert schema["maximum"] == 200  # QUICKSCALE_API_MAX_PAGE_SIZE
    for value, status in [
        (schema["minimum"] - 1, 400),
        (schema["minimum"], 200),
        (schema["maximum"], 200),
        (schema["maximum"] + 1, 400),
    ]:
        assert api.get(path, limit=value).status_code == status, value


def test_the_limit_maximum_follows_the_setting(client: Client, db: None, settings: Any) -> None:
    settings.QUICKSCALE_API_MAX_PAGE_SIZE = 20

    document = client.get(OPENAPI).json()

    assert declared(document, "/api/v1/runs", "limit")["maximum"] == 20


@pytest.mark.parametrize("path", ["/api/v1/credits/transactions", "/api/v1/runs"])
def test_the_bounds_of_cursor_are_the_ones_enforced(
    document: dict[str, Any], api: API, path: str
) -> None:
    schema = declared(document, path, "cursor")
    valid = resolver(document)
    longest = "A" * schema["maxLength"]
    too_long = longest + "A"

    assert valid(schema, longest) and not valid(schema, too_long)
    assert not valid(schema, "dHg6Nw==") and not valid(schema, "")
    for value in (too_long, "dHg6Nw==", "a b"):
        assert api.get(path, cursor=value).status_code == 400, value


def test_the_bounds_of_since_are_the_ones_enforced(document: dict[str, Any], api: API) -> None:
    schema = declared(document, "/api/v1/usage", "since")
    valid = resolver(document)

    for value, accepted in [("2025-01-31", True), ("2025-1-31", False), ("31/01/2025", False)]:
        assert valid(schema, value) is accepted
        assert (api.get("/api/v1/usage", since=value).status_code == 200) is accepted, value


def test_the_bounds_of_the_idempotency_key_are_the_ones_enforced(
    document: dict[str, Any], api: API
) -> None:
    schema = declared(document, "/api/v1/services/{slug}/runs", "Idempotency-Key")
    valid = resolver(document)
    longest = "k" * schema["maxLength"]

    for key, accepted in [
        (longest, True),
        ("~ printable !", True),
        (longest + "k", False),
        ("tab\there", False),
        ("caf\u00e9", False),
    ]:
        assert valid(schema, key) is accepted, key
        response = api.run("echo", {"text": "hi"}, key=key)
        assert (response.status_code == 201) is accepted, (key, response.content)


def test_the_run_id_bounds_are_the_ones_enforced(document: dict[str, Any], api: API) -> None:
    schema = declared(document, "/api/v1/runs/{run_id}", "run_id")
    run = api.run("echo", {"text": "hi"}).json()["id"]

    assert schema["minimum"] == 1
    assert api.get(f"/api/v1/runs/{run}").status_code == 200
    for value in (schema["minimum"] - 1, schema["maximum"] + 1):
        assert_error(api.get(f"/api/v1/runs/{value}"), 404, "not_found")
