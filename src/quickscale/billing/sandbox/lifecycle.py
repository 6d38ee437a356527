"""What Stripe does with the objects of an account, each step returning the events Stripe
would send about it.

Creating objects through the API (customers, products, prices, checkout and portal sessions,
refunds), updating subscriptions (a plan change, cancelling at period end), and what happens
outside the API: a buyer completing or declining a checkout, a subscription renewing or ending.
Every change is written back to the account's store.
"""

from __future__ import annotations

import calendar
import copy
from datetime import datetime, timedelta, timezone
from typing import Any

from quickscale.billing.sandbox.account import Account, ApiError, Data, public

__all__ = [
    "advance",
    "complete_checkout",
    "create_checkout_session",
    "create_refund",
    "period_after",
    "update_subscription",
]

#: Checkout session fields kept for when it is completed.
PAYMENT_METADATA = "_payment_metadata"
SUBSCRIPTION_METADATA = "_subscription_metadata"


def truthy(value: Any) -> bool:
    """A form-encoded boolean parameter: ``"true"`` is true."""
    return str(value).lower() == "true"


def integer(params: Data, name: str) -> int | None:
    """A form-encoded integer parameter, refused as Stripe refuses it."""
    if params.get(name) in (None, ""):
        return None
    try:
        return int(params[name])
    except (TypeError, ValueError):
        raise ApiError(
            400, f"Invalid integer: {params[name]}", code="parameter_invalid_integer"
        ) from None


def period_after(start: int, recurring: Data) -> int:
    """The end of a billing period starting at ``start``: calendar months and years, as
    Stripe bills (31 January + 1 month is 29 February in a leap year)."""
    count = int(recurring.get("interval_count") or 1)
    interval = recurring.get("interval") or "month"
    moment = datetime.fromtimestamp(start, tz=timezone.utc)
    if interval in ("day", "week"):
        moment += timedelta(days=count * (7 if interval == "week" else 1))
    else:
        months = moment.month - 1 + count * (12 if interval == "year" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        moment = moment.replace(year=year, month=month, day=day)
    return int(moment.timestamp())


def _price(account: Account, price_id: Any) -> Data:
    price = account.get("prices", str(price_id)) if price_id else None
    if price is None:
        raise ApiError(400, f"No such price: '{price_id}'", code="resource_missing")
    return price


# -- the API's creates and updates -------------------------------------------------------------


def create_checkout_session(account: Account, params: Data) -> Data:
    """``POST /v1/checkout/sessions``: an open session for the line items, sending the buyer to
    the sandbox's checkout page."""
    items = [
        account.line_item(_price(account, item.get("price")), int(item.get("quantity") or 1))
        for item in params.get("line_items") or []
    ]
    session = account.add(
        "checkout/sessions",
        {
            "object": "checkout.session",
            "mode": params.get("mode"),
            "status": "open",
            "payment_status": "unpaid",
            "customer": params.get("customer"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "amount_total": sum(
                (item["price"]["unit_amount"] or 0) * item["quantity"] for item in items
            ),
            "currency": items[0]["price"]["currency"] if items else "usd",
            "payment_intent": None,
            "subscription": None,
            "invoice": None,
            "_line_items": items,
            PAYMENT_METADATA: (params.get("payment_intent_data") or {}).get("metadata") or {},
            SUBSCRIPTION_METADATA: (params.get("subscription_data") or {}).get("metadata") or {},
        },
    )
    session["url"] = account.checkout_url(session["id"])
    return account.save("checkout/sessions", session)


def create_portal_session(account: Account, params: Data) -> Data:
    """``POST /v1/billing_portal/sessions``: a session sending the customer to the sandbox's
    portal page."""
    session = account.add(
        "billing_portal/sessions",
        {
            "object": "billing_portal.session",
            "customer": params.get("customer"),
            "return_url": params.get("return_url"),
        },
    )
    session["url"] = account.portal_url(session["id"])
    return account.save("billing_portal/sessions", session)


def create_catalog_object(
    account: Account, collection: str, params: Data
) -> tuple[Data, list[Data]]:
    """``products.create`` or ``prices.create``, and its ``product.created`` /
    ``price.created`` event."""
    metadata = params.get("metadata") or {}
    if collection == "products":
        created = account.product(
            str(params.get("name") or "Product"),
            credits=metadata.get("credits"),
            description=str(params.get("description") or ""),
            active=params.get("active") is None or truthy(params["active"]),
        )
    else:
        product = account.get("products", str(params.get("product")))
        if product is None:
            raise ApiError(
                400, f"No such product: '{params.get('product')}'", code="resource_missing"
            )
        recurring = params.get("recurring") or {}
        created = account.price(
            product,
            integer(params, "unit_amount") or 0,
            credits=metadata.get("credits"),
            interval=recurring.get("interval"),
            interval_count=integer(recurring, "interval_count") or 1,
            currency=str(params.get("currency") or "usd").lower(),
            nickname=params.get("nickname"),
        )
    created["metadata"] = dict(metadata)
    account.save(collection, created)
    return created, [account.event(f"{created['object']}.created", created)]


def update_catalog_object(
    account: Account, collection: str, data: Data, params: Data
) -> tuple[Data, list[Data]]:
    """``products.update`` or ``prices.update`` (name, description, active, metadata, nickname),
    and its ``.updated`` event."""
    for name in ("name", "description", "nickname"):
        if name in params:
            data[name] = params[name] or None
    if "active" in params:
        data["active"] = truthy(params["active"])
    if "metadata" in params:
        data["metadata"] = {**data.get("metadata", {}), **(params["metadata"] or {})}
    account.save(collection, data)
    return data, [account.event(f"{data['object']}.updated", data)]


def update_subscription(
    account: Account, subscription: Data, params: Data
) -> tuple[Data, list[Data]]:
    """``subscriptions.update``: cancel at period end (or undo it), or move the plan to
    another price. With ``billing_cycle_anchor[type]=now`` and
    ``proration_behavior=always_invoice`` (an upgrade) a new period starts at once and is
    invoiced and paid now, the unused time of the old plan credited. The string form
    (``billing_cycle_anchor=now``) is refused, as Stripe refuses it since 2026-09-30.endive."""
    anchor = params.get("billing_cycle_anchor")
    if anchor is not None and not isinstance(anchor, dict):
        raise ApiError(
            400, "Invalid billing_cycle_anchor: must be an object with a type (now or unchanged)."
        )
    reanchor = (anchor or {}).get("type") == "now"
    events: list[Data] = []
    item = subscription["items"]["data"][0]
    if "cancel_at_period_end" in params:
        cancel = truthy(params["cancel_at_period_end"])
        subscription["cancel_at_period_end"] = cancel
        subscription["cancel_at"] = item["current_period_end"] if cancel else None
        subscription["canceled_at"] = account.now() if cancel else None
    if "metadata" in params:
        subscription["metadata"] = {**subscription["metadata"], **(params["metadata"] or {})}
    invoice = None
    for change in params.get("items") or []:
        found = next(
            (i for i in subscription["items"]["data"] if i["id"] == change.get("id")), None
        )
        if found is None:
            raise ApiError(400, f"No such subscription item: '{change.get('id')}'")
        old, new = found["price"], public(copy.deepcopy(_price(account, change.get("price"))))
        found["price"] = new
        if reanchor:
            unused = _unused(account, old, found)
            start = account.now()
            found["current_period_start"] = start
            found["current_period_end"] = period_after(start, new.get("recurring") or {})
            if params.get("proration_behavior") == "always_invoice":
                invoice = _upgrade_invoice(account, subscription, old, unused)
    account.save("subscriptions", subscription)
    if invoice is not None:
        events.append(account.event("invoice.paid", invoice))
    events.append(account.event("customer.subscription.updated", subscription))
    return subscription, events


def _unused(account: Account, price: Data, item: Data) -> int:
    """What is left of the current period of ``item``, in money of ``price``."""
    start, end = item["current_period_start"], item["current_period_end"]
    if end <= start:
        return 0
    left = max(end - account.now(), 0) / (end - start)
    return int((price.get("unit_amount") or 0) * min(left, 1))


def _upgrade_invoice(account: Account, subscription: Data, old: Data, unused: int) -> Data:
    invoice = account.invoice(subscription, status="open", billing_reason="subscription_update")
    item = subscription["items"]["data"][0]
    credit = account.invoice_line(
        subscription, old, item["current_period_start"], item["current_period_start"], True
    )
    credit["amount"] = -unused
    invoice["lines"]["data"].insert(0, credit)
    invoice["amount_due"] = max(invoice["amount_due"] - unused, 0)
    account.save("invoices", invoice)
    account.pay_invoice(invoice)
    return invoice


def create_refund(account: Account, params: Data) -> tuple[Data, list[Data]]:
    """``refunds.create`` of a charge or payment intent, and ``charge.refunded``. Refuses more
    than what is left to refund, as Stripe does."""
    if params.get("charge"):
        charge_id: str | None = str(params["charge"])
        missing = f"No such charge: '{params['charge']}'"
    else:
        intent = params.get("payment_intent")
        charge_id = next(
            (
                c["id"]
                for c in account.store.objects("charges")
                if c.get("payment_intent") == intent
            ),
            None,
        )
        missing = f"No such payment_intent: '{intent}'"
    # Locked until the request's transaction ends: two refunds of one charge at once are
    # counted one after the other, as Stripe does.
    charge = account.get("charges", charge_id, for_update=True) if charge_id else None
    if charge is None:
        raise ApiError(404, missing, code="resource_missing")
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise ApiError(
            400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = integer(params, "amount")
    amount = left if amount is None else amount
    if amount <= 0:
        raise ApiError(
            400, "The refund amount must be a positive integer.", code="parameter_invalid_integer"
        )
    if amount > left:
        raise ApiError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
            code="amount_too_large",
        )
    refund = account.refund(charge["id"], amount, metadata=params.get("metadata"))
    refund["reason"] = params.get("reason") or None
    account.save("refunds", refund)
    charge = account.get("charges", charge["id"]) or charge
    return refund, [account.event("charge.refunded", charge)]


# -- what happens outside the API --------------------------------------------------------------


def complete_checkout(account: Account, session_id: str, *, paid: bool) -> list[Data]:
    """The buyer pays (``paid``) or is declined on an open checkout session. A pack is
    charged, or its (asynchronous) payment fails; a plan starts with its first invoice paid,
    or that invoice fails. Returns the events, none if the session was not open (completing
    it again changes nothing)."""
    session = account.get("checkout/sessions", session_id, for_update=True)
    if session is None or session.get("status") != "open":
        return []
    if session.get("mode") == "subscription":
        return _start_subscription(account, session, paid=paid)
    if paid:
        account.pay_session(session)
        return [account.event("checkout.session.completed", session)]
    intent = account.add(
        "payment_intents",
        {
            "object": "payment_intent",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "customer": session["customer"],
            "status": "requires_payment_method",
            "metadata": session.get(PAYMENT_METADATA) or {},
        },
    )
    session.update(status="complete", payment_status="unpaid", payment_intent=intent["id"])
    account.save("checkout/sessions", session)
    return [
        account.event("checkout.session.completed", session),
        account.event("checkout.session.async_payment_failed", session),
    ]


def _start_subscription(account: Account, session: Data, *, paid: bool) -> list[Data]:
    price = session["_line_items"][0]["price"]
    subscription = account.subscription(
        {"id": session["customer"]},
        price,
        status="active" if paid else "incomplete",
        metadata=dict(session.get(SUBSCRIPTION_METADATA) or {}),
    )
    invoice = account.invoice(
        subscription, status="paid" if paid else "open", billing_reason="subscription_create"
    )
    session.update(
        status="complete",
        payment_status="paid" if paid else "unpaid",
        subscription=subscription["id"],
        invoice=invoice["id"],
    )
    account.save("checkout/sessions", session)
    return [
        account.event("customer.subscription.created", subscription),
        account.event("invoice.paid" if paid else "invoice.payment_failed", invoice),
        account.event("checkout.session.completed", session),
    ]


def advance(account: Account, subscription_id: str) -> list[Data]:
    """Move a subscription on by one period: its next period (starting where the current one
    ends) is invoiced and paid now; one cancelled at period end ends instead."""
    subscription = account.get("subscriptions", subscription_id, for_update=True)
    if subscription is None:
        raise ApiError(404, f"No such subscription: '{subscription_id}'", code="resource_missing")
    if subscription["status"] in ("canceled", "incomplete", "incomplete_expired"):
        raise ApiError(
            400, f"Subscription {subscription_id} is {subscription['status']}: it does not renew."
        )
    item = subscription["items"]["data"][0]
    if subscription["cancel_at_period_end"]:
        now = account.now()
        subscription.update(
            status="canceled", ended_at=now, canceled_at=subscription["canceled_at"] or now
        )
        account.save("subscriptions", subscription)
        return [account.event("customer.subscription.deleted", subscription)]
    start = item["current_period_end"]
    item["current_period_start"] = start
    item["current_period_end"] = period_after(start, item["price"].get("recurring") or {})
    subscription["status"] = "active"
    account.save("subscriptions", subscription)
    invoice = account.invoice(subscription)
    return [
        account.event("invoice.paid", invoice),
        account.event("customer.subscription.updated", subscription),
    ]
