"""The request context: request ids, client addresses behind proxies, the actor of a request or
a command, and the middleware under WSGI and ASGI."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from quickscale.apikeys.keys import create_key
from quickscale.audit.log import record
from quickscale.audit.models import AuditEvent
from quickscale.core import context as request_context
from quickscale.core.context import Actor, context, current
from quickscale.core.middleware import RequestContextMiddleware
from quickscale.credits import ledger


def recording_view(request: HttpRequest) -> HttpResponse:
    event = record("test.viewed")
    assert event is not None
    return HttpResponse(str(event.pk))


def event_of(response: HttpResponse) -> AuditEvent:
    return AuditEvent.objects.get(pk=int(response.content))


def test_a_request_gets_a_request_id_returned_in_a_header(rf: RequestFactory, db: None) -> None:
    response = RequestContextMiddleware(recording_view)(rf.get("/"))

    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    assert event_of(response).request_id == request_id


def test_a_well_formed_request_id_from_the_edge_is_kept(rf: RequestFactory, db: None) -> None:
    request = rf.get("/", HTTP_X_REQUEST_ID="lb-1a2b3c")

    response = RequestContextMiddleware(recording_view)(request)

    assert response["X-Request-ID"] == "lb-1a2b3c"
    assert event_of(response).request_id == "lb-1a2b3c"
    assert request.request_id == "lb-1a2b3c"  # type: ignore[attr-defined]


@pytest.mark.parametrize("given", ["", "has spaces", "x" * 65, "<script>"])
def test_a_malformed_request_id_is_replaced(rf: RequestFactory, db: None, given: str) -> None:
    response = RequestContextMiddleware(recording_view)(rf.get("/", HTTP_X_REQUEST_ID=given))

    assert response["X-Request-ID"] != given
    assert len(response["X-Request-ID"]) == 32


@override_settings(QUICKSCALE_CORE_REQUEST_ID_HEADER="X-Correlation-ID")
def test_the_request_id_header_is_a_setting(rf: RequestFactory, db: None) -> None:
    response = RequestContextMiddleware(recording_view)(rf.get("/", HTTP_X_CORRELATION_ID="corr-9"))

    assert response["X-Correlation-ID"] == "corr-9"
    assert event_of(response).request_id == "corr-9"


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_not_the_client_ip(
    rf: RequestFactory, db: None
) -> None:
    request = rf.get("/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="10.9.8.7, 1.2.3.4")

    response = RequestContextMiddleware(recording_view)(request)

    assert event_of(response).ip == "203.0.113.7"


@override_settings(QUICKSCALE_CORE_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_forwarded_client_is_recorded(
    rf: RequestFactory, db: None
) -> None:
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20")

    response = RequestContextMiddleware(recording_view)(request)

    assert event_of(response).ip == "198.51.100.20"


@override_settings(QUICKSCALE_CORE_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_client_cannot_spoof_past_the_trusted_proxy(rf: RequestFactory, db: None) -> None:
    # The proxy appends the address it saw; whatever the client wrote comes before it.
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.20")

    response = RequestContextMiddleware(recording_view)(request)

    assert event_of(response).ip == "198.51.100.20"


def test_a_spoofed_forwarded_for_through_the_whole_stack(
    web: Client, one_event: Callable[[str], AuditEvent], make_user: Callable[..., Any]
) -> None:
    make_user(username="ada", password="right-password", is_staff=True)

    web.post(
        "/admin/login/",
        {"username": "ada", "password": "right-password"},
        HTTP_X_FORWARDED_FOR="8.8.8.8",
    )

    assert one_event("auth.login").ip == "203.0.113.7"


def test_the_user_agent_is_recorded(rf: RequestFactory, db: None) -> None:
    response = RequestContextMiddleware(recording_view)(
        rf.get("/", HTTP_USER_AGENT="Mozilla/5.0 " + "x" * 400)
    )

    assert event_of(response).user_agent.startswith("Mozilla/5.0 ")
    assert len(event_of(response).user_agent) == 255


def test_the_signed_in_user_is_the_actor(rf: RequestFactory, user: Any) -> None:
    request = rf.get("/")
    request.user = user

    event = event_of(RequestContextMiddleware(recording_view)(request))

    assert (event.actor_type, event.actor_id, event.actor_repr) == ("user", str(user.pk), str(user))
    assert event.api_key_id == ""


def test_an_anonymous_request_has_no_actor(rf: RequestFactory, db: None) -> None:
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()

    event = event_of(RequestContextMiddleware(recording_view)(request))

    assert (event.actor_type, event.actor_id) == ("", "")


def test_a_key_authenticated_request_acts_as_the_keys_owner_through_the_key(
    rf: RequestFactory, user: Any
) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])
    request = rf.get("/")
    request.user = user
    request.auth = key  # type: ignore[attr-defined]

    event = event_of(RequestContextMiddleware(recording_view)(request))

    assert (event.actor_type, event.actor_id, event.api_key_id) == (
        "api_key",
        str(user.pk),
        key.key_id,
    )
    assert event.actor_repr == str(user)


def test_an_api_call_is_attributed_to_the_key_that_made_it(
    web: Client, user: Any, one_event: Callable[[str], AuditEvent]
) -> None:
    cache.clear()
    ledger.grant(user, 10, source="purchase")
    key, token = create_key(user, "CI", scopes=["services:write"])

    response = web.post(
        "/api/v1/services/word-count/runs",
        json.dumps({"input": {"text": "one two"}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 201, response.content
    event = one_event("credits.debited")
    assert (event.actor_type, event.actor_id, event.api_key_id) == (
        "api_key",
        str(user.pk),
        key.key_id,
    )
    assert event.ip == "203.0.113.7"
    assert event.request_id == response["X-Request-ID"]
    assert (event.target_type, event.changes["balance"]) == (
        "quickscale_credits.creditaccount",
        ["10.00", "9.00"],
    )


def test_the_middleware_runs_as_a_coroutine_under_asgi(rf: RequestFactory) -> None:
    seen: dict[str, Any] = {}

    async def view(request: HttpRequest) -> HttpResponse:
        seen["request_id"] = current().request_id
        seen["ip"] = current().ip
        return HttpResponse("ok")

    middleware = RequestContextMiddleware(view)
    response = asyncio.run(middleware(rf.get("/", REMOTE_ADDR="192.0.2.1")))

    assert asyncio.iscoroutinefunction(middleware)
    assert response["X-Request-ID"] == seen["request_id"]
    assert seen["ip"] == "192.0.2.1"
    assert current().request_id == ""


def test_the_context_ends_with_the_request(rf: RequestFactory, db: None) -> None:
    RequestContextMiddleware(recording_view)(rf.get("/"))

    assert current() == request_context.EMPTY


# -- outside requests -------------------------------------------------------------------------


def test_a_block_of_code_sets_its_own_context(user: Any) -> None:
    with context(actor=user, request_id="job-1"):
        inner = record("job.ran")
        with context(actor=Actor.system("cleanup")):
            nested = record("job.cleaned")
    assert inner is not None and nested is not None
    assert (inner.actor_id, inner.request_id) == (str(user.pk), "job-1")
    assert (nested.actor_type, nested.actor_repr, nested.request_id) == (
        "system",
        "cleanup",
        "job-1",
    )
    assert current() == request_context.EMPTY


def test_the_context_decorates_a_task_function(db: None) -> None:
    @context(actor=Actor.system("task nightly"))
    def nightly() -> AuditEvent | None:
        return record("job.ran")

    event = nightly()

    assert event is not None
    assert (event.actor_type, event.actor_repr) == ("system", "task nightly")


def test_a_management_command_acts_as_the_system(
    user: Any, one_event: Callable[[str], AuditEvent]
) -> None:
    call_command("credits", "grant", str(user.pk), "5", "--source", "admin", stdout=io.StringIO())

    event = one_event("credits.granted")
    assert (event.actor_type, event.actor_repr) == ("system", "manage.py credits grant")
    assert len(event.request_id) == 32
    assert event.changes == {"balance": ["0.00", "5.00"]}
    assert Decimal(event.metadata["amount"]) == 5


def test_a_command_called_inside_a_context_keeps_its_actor(
    user: Any, make_user: Callable[..., Any], one_event: Callable[[str], AuditEvent]
) -> None:
    operator = make_user()

    with context(actor=operator, request_id="ticket-7"):
        call_command(
            "credits", "grant", str(user.pk), "5", "--source", "admin", stdout=io.StringIO()
        )

    event = one_event("credits.granted")
    assert (event.actor_type, event.actor_id, event.request_id) == (
        "user",
        str(operator.pk),
        "ticket-7",
    )
