"""The OpenAPI document and the docs page rendered from it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern
from openapi_spec_validator import validate

from quickscale.api import urls
from quickscale.api.schema import NOT_BLANK_PATTERN
from quickscale.services.execution import sync_catalog
from quickscale.services.models import Service
from quickscale.services.registry import registry

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
