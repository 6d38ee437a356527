"""Delivering the sandbox's events to the site's own webhook endpoint.

Each event is signed as Stripe signs it (``stripe.WebhookSignature.generate_signature_header``
with the sandbox's secret and the real time, which the endpoint checks against its tolerance)
and handed to the view behind ``quickscale_billing:webhook`` as a POST request with the signed
body and the ``Stripe-Signature`` header: the endpoint's verification, storage (once per event
id) and handlers run as they run for Stripe. The view is called in this process, not over
HTTP, so delivery works wherever the site runs (``runserver``, one sync worker, the test
client), and runs with the ``system`` actor "payment sandbox", so the audit log does not
attribute what the webhook does to the request that caused it.

An answer other than 2xx raises :class:`DeliveryRefused`: the change made in the sandbox stays,
and the event can be delivered again with ``manage.py billing replay <event id>``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from contextlib import suppress

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.urls import get_script_prefix, resolve, reverse

from quickscale.billing.client import webhook_secret
from quickscale.billing.exceptions import DeliveryRefused
from quickscale.billing.sandbox.account import Data, public
from quickscale.core.context import Actor, context, new_request_id

__all__ = ["ACTOR_LABEL", "DeliveryRefused", "deliver", "post"]

#: The system actor of everything a delivery does.
ACTOR_LABEL = "payment sandbox"
USER_AGENT = "QuickScale payment sandbox"


def deliver(events: Iterable[Data]) -> None:
    """Post each event to the webhook endpoint, in order; raise :class:`DeliveryRefused` at
    the first one it does not accept."""
    for event in events:
        response = post(event)
        if not 200 <= response.status_code < 300:
            detail = response.content.decode(errors="replace")[:300]
            with suppress(ValueError, KeyError, TypeError):
                detail = json.loads(detail)["error"]["message"]
            raise DeliveryRefused(
                f"The webhook endpoint refused the payment sandbox's event {event['id']} "
                f"({event['type']}) with status {response.status_code}: {detail} The change "
                "was made in the sandbox; deliver the event again with "
                f"`manage.py billing replay {event['id']}`.",
                details={"event": event["id"], "status": response.status_code},
            )


def post(event: Data, *, body: str | None = None, signature: str | None = None) -> HttpResponse:
    """One signed delivery of ``event`` to the webhook view, and its answer. ``body`` replaces
    the body sent and ``signature`` the header (made for the event), to see what a tampered or
    forged delivery gets."""
    import stripe

    signed = json.dumps(public(event))
    text = signed if body is None else body
    header = signature or stripe.WebhookSignature.generate_signature_header(
        signed, webhook_secret()
    )
    prefix = get_script_prefix()
    url = reverse("quickscale_billing:webhook")
    path_info = "/" + url.removeprefix(prefix).lstrip("/")
    match = resolve(path_info)
    payload = text.encode()
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": prefix.rstrip("/"),
            "PATH_INFO": path_info,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
            "HTTP_STRIPE_SIGNATURE": header,
            "HTTP_USER_AGENT": USER_AGENT,
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.url_scheme": "http",
        }
    )
    with context(
        actor=Actor.system(ACTOR_LABEL), request_id=new_request_id(), ip=None, user_agent=USER_AGENT
    ):
        response: HttpResponse = match.func(request, *match.args, **match.kwargs)
    return response
