"""The Stripe webhook endpoint: verify, store once, enqueue, answer.

1. The ``Stripe-Signature`` header is checked against the signing secret
   (:func:`~quickscale.billing.client.webhook_secret`: ``QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET``,
   or the payment sandbox's own) with Stripe's ``WebhookSignature.verify_header``, refusing
   timestamps older than ``QUICKSCALE_BILLING_WEBHOOK_TOLERANCE`` seconds. A delivery that
   fails this, or whose body is not a Stripe event, gets 400 and leaves one
   ``RejectedDelivery`` row (no body kept): Stripe shows the failure on the endpoint and
   retries it.
2. An event of a type we do not handle gets 200 and is not stored, as Stripe asks of endpoints
   that receive more event types than they use.
3. The event is stored with one ``INSERT ... ON CONFLICT DO NOTHING`` on its unique Stripe id,
   so a repeated delivery is a no-op, and a task is enqueued to process it: in the same
   transaction when the queue is a table of the same database (``django_tasks_db``), else once
   the event is committed. The answer is 200 as soon as the event is stored: processing errors
   are the event's, not the delivery's.

When billing is not configured the endpoint answers 503 (Stripe retries for three days) with
the one JSON error shape, and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from quickscale.billing.client import require_enabled, webhook_secret
from quickscale.billing.exceptions import BillingDisabled
from quickscale.billing.handlers import FINISHED, HANDLED_TYPES, object_id
from quickscale.billing.models import EventStatus, RejectedDelivery, RejectReason, WebhookEvent
from quickscale.billing.objects import is_stripe_id, moment
from quickscale.billing.tasks import enqueue_event, queues_in_database
from quickscale.core.errors import QuickScaleError
from quickscale.core.http import client_ip, error_response

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_STRIPE_SIGNATURE"
#: Request headers kept on a rejected delivery (each cut to 255 characters).
KEPT_HEADERS = {
    "HTTP_USER_AGENT": "User-Agent",
    "CONTENT_TYPE": "Content-Type",
    "CONTENT_LENGTH": "Content-Length",
    SIGNATURE_HEADER: "Stripe-Signature",
}


class Rejected(QuickScaleError):
    """A delivery refused before anything is stored; ``code`` is a ``RejectReason``."""

    status = 400


@dataclass(frozen=True)
class Delivery:
    """A verified event, as much of it as storing needs."""

    id: str
    type: str
    created: datetime
    livemode: bool
    api_version: str
    object_id: str
    body: str


def verify(body: bytes, header: str | None) -> Delivery:
    """Check the signature and the shape of a delivery; raise ``Rejected`` saying why not."""
    import stripe

    if not header:
        raise Rejected(
            "The Stripe-Signature header is missing.", code=RejectReason.MISSING_SIGNATURE
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("The body is not UTF-8.", code=RejectReason.MALFORMED) from None
    secret = webhook_secret()
    tolerance = settings.QUICKSCALE_BILLING_WEBHOOK_TOLERANCE
    try:
        stripe.WebhookSignature.verify_header(text, header, secret, tolerance)
    except stripe.SignatureVerificationError:
        # A signature that is right but old is a replay: say so, it helps to find a clock
        # skew or a queue that delivers late.
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, None)
        except stripe.SignatureVerificationError:
            raise Rejected(
                "The signature does not match the body and the endpoint's secret.",
                code=RejectReason.BAD_SIGNATURE,
            ) from None
        raise Rejected(
            f"The signature is older than {tolerance} seconds.",
            code=RejectReason.EXPIRED_TIMESTAMP,
        ) from None
    try:
        payload = json.loads(text)
    except ValueError:
        raise Rejected("The body is not JSON.", code=RejectReason.MALFORMED) from None
    return _delivery(payload, text)


def _delivery(payload: Any, text: str) -> Delivery:
    def malformed(what: str) -> Rejected:
        return Rejected(f"The body is not a Stripe event: {what}.", code=RejectReason.MALFORMED)

    if not isinstance(payload, dict) or payload.get("object") != "event":
        raise malformed('its "object" is not "event"')
    event_id, event_type, created = payload.get("id"), payload.get("type"), payload.get("created")
    if not isinstance(event_id, str) or not is_stripe_id(event_id):
        raise malformed('"id" is not an event id')
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise malformed('"type" is not an event type')
    if isinstance(created, bool) or not isinstance(created, int):
        raise malformed('"created" is not a timestamp')
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise malformed('"data.object" is missing')
    data_id = object_id(payload)
    if data_id and not is_stripe_id(data_id):
        raise malformed('"data.object.id" is not a Stripe id')
    # JSON spells a NUL "\u0000"; the text test is cheap, the walk rules out "\\u0000".
    if "\\u0000" in text and _has_nul(payload):
        raise malformed("it contains a NUL character, which the database cannot store")
    version = payload.get("api_version")
    when = moment(created)
    assert when is not None
    return Delivery(
        id=event_id,
        type=event_type,
        created=when,
        livemode=payload.get("livemode") is True,
        api_version=version[:50] if isinstance(version, str) else "",
        object_id=data_id,
        body=text,
    )


def _has_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds a NUL character in any string or key."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def store(delivery: Delivery) -> int | None:
    """Insert the event unless its Stripe id is stored already: its primary key when it is
    new, ``None`` for a repeated delivery. One statement on PostgreSQL and SQLite."""
    if connection.vendor in ("postgresql", "sqlite") and (
        connection.features.can_return_columns_from_insert
    ):
        return _insert_or_nothing(delivery)
    try:
        with transaction.atomic():
            created = WebhookEvent.objects.create(
                stripe_id=delivery.id,
                type=delivery.type,
                object_id=delivery.object_id,
                livemode=delivery.livemode,
                api_version=delivery.api_version,
                payload=json.loads(delivery.body),
                created=delivery.created,
            )
    except IntegrityError:
        return None
    return int(created.pk)


def _insert_or_nothing(delivery: Delivery) -> int | None:
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    payload = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"INSERT INTO {table} (stripe_id, type, object_id, livemode, api_version, payload, "  # noqa: S608
        "created, received_at, status, attempts, error, note) "
        f"VALUES (%s, %s, %s, %s, %s, {payload}, %s, %s, %s, 0, '', '') "
        "ON CONFLICT (stripe_id) DO NOTHING RETURNING id"
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                delivery.id,
                delivery.type,
                delivery.object_id,
                delivery.livemode,
                delivery.api_version,
                delivery.body,
                adapt(delivery.created),
                adapt(timezone.now()),
                EventStatus.PENDING,
            ],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def reject(request: HttpRequest, body: bytes, error: Rejected) -> JsonResponse:
    """Log a refused delivery (without its body) and answer 400."""
    RejectedDelivery.objects.create(
        reason=error.code,
        detail=error.message[:255],
        ip=client_ip(request),
        headers={
            name: str(request.META[key])[:255]
            for key, name in KEPT_HEADERS.items()
            if key in request.META
        },
        body_sha256=hashlib.sha256(body).hexdigest(),
        body_size=len(body),
    )
    logger.warning(
        "Refused a Stripe webhook delivery from %s: %s", client_ip(request), error.message
    )
    return error_response(error)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Stripe's webhook endpoint (``POST``; configure its URL in the Stripe dashboard)."""
    try:
        require_enabled()
    except BillingDisabled as error:
        return error_response(error)
    body = request.body
    try:
        delivery = verify(body, request.META.get(SIGNATURE_HEADER))
    except Rejected as error:
        return reject(request, body, error)
    if delivery.type not in HANDLED_TYPES:
        logger.info("Stripe event %s (%s) is not handled; dropped.", delivery.id, delivery.type)
        return JsonResponse({"received": True, "stored": False})
    if queues_in_database():
        with transaction.atomic():
            event_id = store_or_find(delivery)
            if event_id is not None:
                enqueue_event(event_id)
    else:
        event_id = store_or_find(delivery)
        if event_id is not None:
            transaction.on_commit(partial(enqueue_event, event_id))
    return JsonResponse({"received": True, "stored": True})


def store_or_find(delivery: Delivery) -> int | None:
    """The id of the event to process: the new row, or, for a repeated delivery, the stored
    event if no earlier delivery finished it (its task may have been lost with a crashed
    process; processing twice changes nothing); ``None`` when there is nothing to do."""
    event_id = store(delivery)
    if event_id is not None:
        return event_id
    stored = WebhookEvent.objects.filter(stripe_id=delivery.id).values_list("pk", "status").first()
    if stored is not None and stored[1] not in FINISHED:
        return int(stored[0])
    return None
