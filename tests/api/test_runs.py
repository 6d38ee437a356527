"""Running services through the API, idempotency, and reading one's runs."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import set_script_prefix

from quickscale.api.pagination import encode_cursor
from quickscale.credits import ledger
from quickscale.services.execution import execute, sync_catalog
from quickscale.services.models import Service, ServiceRun
from tests.api.conftest import API, assert_error
from tests.hostapp.tasks import UNREACHABLE

RUNS = "/api/v1/runs"


def available(user: Any) -> Decimal:
    return ledger.balance(user).available


def test_running_a_service_returns_201_with_the_run_and_the_balance(api: API, funded: Any) -> None:
    response = api.run("echo", {"text": "hello"})

    assert response.status_code == 201
    body = response.json()
    run = ServiceRun.objects.get()
    assert body["id"] == run.pk
    assert response["Location"] == f"/api/v1/runs/{run.pk}"
    assert {k: body[k] for k in ("service", "status", "cost", "output", "error", "balance")} == {
        "service": "echo",
        "status": "succeeded",
        "cost": "2.00",
        "output": {"text": "hello"},
        "error": None,
        "balance": "18.00",
    }
    assert "Idempotent-Replayed" not in response
    assert available(funded) == 18


def test_the_runs_location_follows_the_sites_url_prefix(api: API, funded: Any) -> None:
    plain = api.run("echo", {"text": "one"})
    # What a WSGI server mounted under /saas sets (the test client sets no prefix itself).
    set_script_prefix("/saas/")
    try:
        prefixed = api.run("echo", {"text": "two"})
    finally:
        set_script_prefix("/")
    again = api.run("echo", {"text": "three"})

    first, second, third = ServiceRun.objects.order_by("pk")
    assert plain["Location"] == f"/api/v1/runs/{first.pk}"
    assert prefixed["Location"] == f"/saas/api/v1/runs/{second.pk}"
    assert again["Location"] == f"/api/v1/runs/{third.pk}"


def test_an_inline_service_runs_the_same_way(api: API) -> None:
    body = api.run("word-count", {"text": "one two three"}).json()

    assert (body["mode"], body["output"], body["balance"]) == ("inline", {"words": 3}, "19.00")


def test_a_run_that_fails_is_201_with_its_error_and_costs_nothing(api: API, funded: Any) -> None:
    response = api.run("explodes")

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["cost"], body["balance"]) == ("failed", "0.00", "20.00")
    assert "the model server is down" in body["error"]
    assert available(funded) == 20


def test_a_queued_run_is_202_and_can_be_polled(api: API, funded: Any) -> None:
    # The test's transaction never commits, so the task enqueued at commit never runs.
    response = api.run("async-sleeper", {"seconds": 0})

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["cost"], body["balance"]) == ("queued", None, "20.00")
    assert available(funded) == 19  # the cost is held
    assert api.get(response["Location"]).json()["status"] == "queued"


def test_a_run_needs_no_body_when_the_service_takes_no_input(api: API) -> None:
    response = api.post("/api/v1/services/free/runs")

    assert response.status_code == 201
    assert response.json()["output"] == {"ok": True}


def test_invalid_input_is_a_400_naming_each_field(api: API, funded: Any) -> None:
    error = assert_error(api.run("echo", {"text": ""}), 400, "invalid_input")

    assert error["details"] == {"text": ["This field is required."]}
    assert not ServiceRun.objects.exists()


@pytest.mark.parametrize("input", [[], "text", 5, None])
def test_an_input_that_is_not_an_object_is_a_400(api: API, input: Any) -> None:
    response = api.post("/api/v1/services/echo/runs", {"input": input})

    assert_error(response, 400, "invalid_input")


def test_an_unknown_field_in_the_body_is_a_400(api: API) -> None:
    response = api.post("/api/v1/services/echo/runs", {"inputs": {"text": "hi"}})

    error = assert_error(response, 400, "invalid_request")
    assert error["details"] == {"unknown_fields": ["inputs"]}


def test_too_few_credits_is_a_402_and_charges_nothing(
    make_api: Callable[..., API], user: Any
) -> None:
    ledger.grant(user, 1, source="purchase")

    error = assert_error(make_api(user).run("echo", {"text": "hi"}), 402, "insufficient_credits")

    assert error["details"] == {"available": "1.00", "required": "2.00"}
    assert available(user) == 1
    assert not ServiceRun.objects.exists()


def test_an_unknown_service_is_a_404(api: API) -> None:
    assert_error(api.run("no-such-service"), 404, "service_not_found")


def test_a_disabled_service_is_a_409(api: API) -> None:
    sync_catalog()
    Service.objects.filter(slug="echo").update(enabled=False)

    assert_error(api.run("echo", {"text": "hi"}), 409, "service_disabled")


def test_an_unavailable_service_is_a_409(api: API) -> None:
    assert_error(api.run("needs-key"), 409, "service_disabled")


def test_a_replay_returns_the_first_run_and_charges_once(api: API, funded: Any) -> None:
    first = api.run("echo", {"text": "hi"}, key="order-1")
    again = api.run("echo", {"text": "hi"}, key="order-1")

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert ServiceRun.objects.count() == 1
    assert available(funded) == 18


def test_a_replay_of_a_failed_run_returns_it_without_running_again(api: API) -> None:
    first = api.run("explodes", key="k")
    again = api.run("explodes", key="k")

    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "failed"


def test_reusing_a_key_for_another_input_is_a_409(api: API, funded: Any) -> None:
    api.run("echo", {"text": "hi"}, key="order-1")

    error = assert_error(
        api.run("echo", {"text": "bye"}, key="order-1"), 409, "idempotency_conflict"
    )

    assert error["details"]["idempotency_key"] == "order-1"
    assert available(funded) == 18


def test_reusing_a_key_for_another_service_is_a_409(api: API) -> None:
    api.run("echo", {"text": "hi"}, key="order-1")

    assert_error(api.run("word-count", {"text": "hi"}, key="order-1"), 409, "idempotency_conflict")


def test_idempotency_keys_belong_to_their_user(
    api: API, make_api: Callable[..., API], make_user: Callable[..., Any]
) -> None:
    other = make_user()
    ledger.grant(other, 5, source="purchase")
    mine = api.run("echo", {"text": "hi"}, key="same").json()

    theirs = make_api(other).run("echo", {"text": "hi"}, key="same").json()

    assert theirs["id"] != mine["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "naïve", "nul\x00"])
def test_a_malformed_idempotency_key_is_a_400(api: API, key: str) -> None:
    response = api.post(
        "/api/v1/services/echo/runs", {"input": {"text": "hi"}}, {"Idempotency-Key": key}
    )

    assert_error(response, 400, "invalid_request")
    assert not ServiceRun.objects.exists()


@pytest.mark.parametrize(
    "body", ["{", "[1, 2]", '"text"', "null", '{"input": NaN}', "[" * 100_000, "1" * 5000]
)
def test_a_body_that_is_not_a_json_object_is_a_400(api: API, body: str) -> None:
    assert_error(api.post("/api/v1/services/echo/runs", body), 400, "invalid_json")


def test_a_body_that_is_not_utf8_is_a_400(api: API) -> None:
    response = api.post("/api/v1/services/echo/runs", b'{"input": {"text": "\xff"}}')

    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_not_sent_as_json_is_a_415(api: API, content_type: str) -> None:
    response = api.post(
        "/api/v1/services/echo/runs", {"input": {"text": "hi"}}, content_type=content_type
    )

    assert_error(response, 415, "unsupported_media_type")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_body_over_the_upload_limit_is_a_413(api: API) -> None:
    response = api.run("echo", {"text": "x" * 200})

    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 100}


def test_a_malformed_content_length_is_a_400(api: API) -> None:
    response = api.client.post(
        "/api/v1/services/free/runs",
        b"{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
        CONTENT_LENGTH="two",
    )

    assert_error(response, 400, "invalid_request")


def test_another_method_is_a_405_naming_the_allowed_one(api: API) -> None:
    response = api.get("/api/v1/services/echo/runs")

    error = assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"
    assert error["details"] == {"allowed": ["POST"]}
    assert api.post("/api/v1/credits/balance")["Allow"] == "GET"


def test_the_runs_list_holds_only_the_callers_runs_newest_first(
    api: API, funded: Any, make_user: Callable[..., Any]
) -> None:
    other = make_user()
    ledger.grant(other, 5, source="purchase")
    execute(other, "echo", {"text": "theirs"})
    first = api.run("echo", {"text": "one"}).json()["id"]
    second = api.run("word-count", {"text": "two"}).json()["id"]

    body = api.get(RUNS).json()

    assert [run["id"] for run in body["data"]] == [second, first]
    assert body["next_cursor"] is None


def test_the_cursor_walks_every_run_exactly_once(api: API, funded: Any) -> None:
    made = [execute(funded, "free", {}).pk for _ in range(5)]

    seen, cursor = [], None
    while True:
        body = api.get(RUNS, limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [run["id"] for run in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == made[::-1]


def test_a_cursor_of_another_list_is_a_400(api: API) -> None:
    assert_error(api.get(RUNS, cursor=encode_cursor("tx", 3)), 400, "invalid_parameter")


def test_one_run_can_be_read_by_its_owner(api: API, funded: Any) -> None:
    run = execute(funded, "echo", {"text": "hi"})

    body = api.get(f"{RUNS}/{run.pk}").json()

    assert body["id"] == run.pk
    assert (body["status"], body["output"], body["cost"]) == ("succeeded", {"text": "hi"}, "2.00")


def test_another_users_run_is_a_404(api: API, make_user: Callable[..., Any]) -> None:
    other = make_user()
    theirs = execute(other, "free", {})

    error = assert_error(api.get(f"{RUNS}/{theirs.pk}"), 404, "not_found")

    assert "free" not in str(error)


@pytest.mark.parametrize("run_id", ["abc", "0", "-1", "1.0", "01", "9" * 19, "9" * 40, "%20"])
def test_a_run_id_that_is_no_run_of_yours_is_a_404(api: API, run_id: str) -> None:
    assert_error(api.get(f"{RUNS}/{run_id}"), 404, "not_found")


@pytest.mark.parametrize(
    "path", ["/api/v1/", "/api/v1/nope", "/api/v1/runs/", "/api/v1/runs/1/x", "/api/v1/services/"]
)
def test_any_other_address_under_the_api_is_a_json_404(api: API, path: str) -> None:
    response = api.get(path)

    assert_error(response, 404, "not_found")
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db(transaction=True)
def test_a_run_the_task_backend_refuses_is_a_503_with_retry_after_and_charges_nothing(
    api: API, funded: Any
) -> None:
    with override_settings(TASKS=UNREACHABLE):
        response = api.run("async-sleeper", {"seconds": 0}, key="retry-me")

    error = assert_error(response, 503, "queue_unavailable")
    assert response["Retry-After"] == "10"
    assert error["details"]["retry_after"] == 10
    assert available(funded) == 20
    assert ServiceRun.objects.get().status == "failed"
