"""The sandbox's Stripe account: its objects, made as Stripe makes them.

:class:`Account` keeps objects in a :class:`~quickscale.billing.sandbox.store.Store`, shaped as
the SDK's API version (:data:`API_VERSION`) returns them, and builds them: products, prices,
customers, checkout sessions paid or not, subscriptions with their invoices, payments, refunds,
and the event Stripe sends about an object. :mod:`~quickscale.billing.sandbox.lifecycle` uses
the builders for what Stripe does on its own (completing a checkout, renewing a plan);
:mod:`~quickscale.billing.sandbox.emulator` serves the objects to the SDK.

Timestamps come from :meth:`Account.now`: ``django.utils.timezone.now()``, the suite's one clock.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from django.urls import reverse
from django.utils import timezone

from quickscale.billing.sandbox.store import Data, Store

__all__ = ["API_VERSION", "COLLECTIONS", "Account", "ApiError", "Data", "public"]

#: The API version the objects are shaped for (the SDK's own).
API_VERSION = "2026-10-28.endive"
#: Collections by API path, and the prefix of their ids.
COLLECTIONS = {
    "products": "prod",
    "prices": "price",
    "customers": "cus",
    "subscriptions": "sub",
    "invoices": "in",
    "charges": "ch",
    "refunds": "re",
    "events": "evt",
    "checkout/sessions": "cs_test",
    "invoice_payments": "inpay",
    "billing_portal/sessions": "bps",
    "payment_intents": "pi",
}
USER_KEY = "quickscale_user_id"


class ApiError(Exception):
    """A request Stripe would refuse: answered with Stripe's error shape and ``status``."""

    def __init__(
        self, status: int, message: str, *, kind: str = "invalid_request_error", code: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": kind, "message": message, "code": code or None}}


def public(data: Data) -> Data:
    """The object as the API shows it: without the sandbox's own ``_`` notes."""
    return {key: value for key, value in data.items() if not key.startswith("_")}


class Account:
    """Objects of one Stripe account, and the builders that make them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: This account object answers one call at a time (a client is made per use); between
        #: requests and processes, the database store's row locks keep changes apart.
        self.lock = threading.RLock()

    # -- storage --------------------------------------------------------------------------

    def now(self) -> int:
        """Stripe's clock, as a Unix timestamp."""
        return int(timezone.now().timestamp())

    def get(self, collection: str, stripe_id: str, *, for_update: bool = False) -> Data | None:
        """The stored object, or ``None``; ``for_update`` locks it until the transaction ends."""
        return self.store.load(collection, stripe_id, for_update=for_update)

    def save(self, collection: str, data: Data) -> Data:
        """Store a changed object; returns it."""
        return self.store.save(collection, data)

    def add(self, collection: str, data: Data) -> Data:
        """Store a new object, giving it an id, a creation time and ``livemode``."""
        with self.lock:
            data.setdefault("id", self.store.new_id(COLLECTIONS[collection]))
            data.setdefault("created", self.now())
            data.setdefault("livemode", False)
            return self.store.save(collection, data)

    def checkout_url(self, session_id: str) -> str:
        """Where a checkout session sends the buyer: the sandbox's checkout page."""
        return reverse("quickscale_billing:sandbox_checkout", args=[session_id])

    def portal_url(self, session_id: str) -> str:
        """Where a Customer Portal session sends the customer: the sandbox's portal page."""
        return reverse("quickscale_billing:sandbox_portal", args=[session_id])

    # -- the catalog and customers ---------------------------------------------------------

    def product(
        self, name: str, *, credits: str | None = None, active: bool = True, description: str = ""
    ) -> Data:
        """A new product; ``credits`` goes in its metadata, as the catalog reads it."""
        return self.add(
            "products",
            {
                "object": "product",
                "name": name,
                "description": description or f"{name} for testing",
                "active": active,
                "metadata": {"credits": credits} if credits else {},
            },
        )

    def price(
        self,
        product: Data,
        unit_amount: int,
        *,
        credits: str | None = None,
        interval: str | None = None,
        interval_count: int = 1,
        currency: str = "usd",
        active: bool = True,
        nickname: str | None = None,
    ) -> Data:
        """A new price of ``product``: a pack, or a plan when ``interval`` is given."""
        return self.add(
            "prices",
            {
                "object": "price",
                "product": product["id"],
                "active": active,
                "currency": currency,
                "unit_amount": unit_amount,
                "nickname": nickname,
                "lookup_key": None,
                "type": "recurring" if interval else "one_time",
                "recurring": (
                    {
                        "interval": interval,
                        "interval_count": interval_count,
                        "usage_type": "licensed",
                    }
                    if interval
                    else None
                ),
                "metadata": {"credits": credits} if credits else {},
            },
        )

    def customer(self, user: Any) -> Data:
        """A new customer for the user, with the user's id in its metadata."""
        return self.add(
            "customers",
            {
                "object": "customer",
                "email": user.email,
                "metadata": {USER_KEY: str(user.pk)},
            },
        )

    # -- payments -------------------------------------------------------------------------

    def charge(self, amount: int, currency: str, customer: str | None) -> Data:
        """A succeeded payment intent and its charge; returns the charge."""
        intent = self.add(
            "payment_intents",
            {
                "object": "payment_intent",
                "amount": amount,
                "currency": currency,
                "customer": customer,
                "status": "succeeded",
            },
        )
        charge = self.add(
            "charges",
            {
                "object": "charge",
                "amount": amount,
                "amount_refunded": 0,
                "currency": currency,
                "payment_intent": intent["id"],
                "paid": True,
                "status": "succeeded",
                "refunded": False,
                "customer": customer,
            },
        )
        intent["latest_charge"] = charge["id"]
        self.save("payment_intents", intent)
        return charge

    def line_item(self, price: Data, quantity: int = 1) -> Data:
        """A checkout line item buying ``quantity`` of ``price`` (not stored on its own)."""
        return {
            "id": self.store.new_id("li"),
            "object": "item",
            "amount_total": (price.get("unit_amount") or 0) * quantity,
            "currency": price.get("currency"),
            "price": price,
            "quantity": quantity,
        }

    def pay_session(self, session: Data, *, payment_status: str = "paid") -> Data:
        """Complete a pack checkout session: its payment intent and charge are made, and it
        is paid unless ``payment_status`` says otherwise (a bank debit still running)."""
        charge = self.charge(session["amount_total"], session["currency"], session["customer"])
        session.update(
            status="complete",
            payment_status=payment_status,
            payment_intent=charge["payment_intent"],
            _charge=charge["id"],
        )
        return self.save("checkout/sessions", session)

    def paid_session(
        self, customer: Data, price: Data, *, user: Any = None, payment_status: str = "paid"
    ) -> Data:
        """A completed pack checkout session, with its payment intent and charge."""
        metadata = {
            "quickscale_price": price["id"],
            "quickscale_credits": price["metadata"]["credits"],
        }
        if user is not None:
            metadata[USER_KEY] = str(user.pk)
        session = self.add(
            "checkout/sessions",
            {
                "object": "checkout.session",
                "mode": "payment",
                "status": "open",
                "payment_status": "unpaid",
                "customer": customer["id"],
                "client_reference_id": str(user.pk) if user is not None else None,
                "metadata": metadata,
                "amount_total": price["unit_amount"],
                "currency": price["currency"],
                "payment_intent": None,
                "subscription": None,
                "url": None,
                "_line_items": [self.line_item(price)],
            },
        )
        return self.pay_session(session, payment_status=payment_status)

    # -- subscriptions --------------------------------------------------------------------

    def subscription(
        self,
        customer: Data,
        price: Data,
        *,
        status: str = "active",
        period_start: int | None = None,
        period_end: int | None = None,
        metadata: Data | None = None,
    ) -> Data:
        """A new subscription of ``customer`` to ``price``, for one period from ``period_start``
        (now by default)."""
        # Imported here: lifecycle builds on this module.
        from quickscale.billing.sandbox.lifecycle import period_after

        start = period_start or self.now()
        end = period_end or period_after(start, price.get("recurring") or {})
        return self.add(
            "subscriptions",
            {
                "object": "subscription",
                "customer": customer["id"],
                "status": status,
                "cancel_at_period_end": False,
                "cancel_at": None,
                "canceled_at": None,
                "ended_at": None,
                "metadata": metadata or {},
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": self.store.new_id("si"),
                            "object": "subscription_item",
                            "price": public(copy.deepcopy(price)),
                            "quantity": 1,
                            "current_period_start": start,
                            "current_period_end": end,
                        }
                    ],
                },
            },
        )

    def invoice(
        self,
        subscription: Data,
        *,
        status: str = "paid",
        period_start: int | None = None,
        period_end: int | None = None,
        proration: bool = False,
        billing_reason: str = "subscription_cycle",
    ) -> Data:
        """A subscription invoice for the subscription's current price and period; a paid
        one comes with its payment intent, charge and invoice payment."""
        item = subscription["items"]["data"][0]
        price = item["price"]
        start = period_start or item["current_period_start"]
        end = period_end or item["current_period_end"]
        invoice = self.add(
            "invoices",
            {
                "object": "invoice",
                "customer": subscription["customer"],
                "status": status,
                "currency": price["currency"],
                "amount_due": price["unit_amount"],
                "amount_paid": 0,
                "attempt_count": 1,
                "billing_reason": billing_reason,
                "parent": {
                    "type": "subscription_details",
                    "quote_details": None,
                    "subscription_details": {"subscription": subscription["id"], "metadata": {}},
                },
                "status_transitions": {"paid_at": None},
                "lines": {
                    "object": "list",
                    "has_more": False,
                    "data": [self.invoice_line(subscription, price, start, end, proration)],
                },
            },
        )
        if status == "paid":
            self.pay_invoice(invoice)
        return invoice

    def invoice_line(
        self, subscription: Data, price: Data, start: int, end: int, proration: bool
    ) -> Data:
        """An invoice line charging ``price`` for the period from ``start`` to ``end`` (a
        proration or not)."""
        return {
            "id": self.store.new_id("il"),
            "object": "line_item",
            "amount": price["unit_amount"],
            "currency": price["currency"],
            "quantity": 1,
            "period": {"start": start, "end": end},
            "parent": {
                "type": "subscription_item_details",
                "subscription_item_details": {
                    "proration": proration,
                    "subscription": subscription["id"],
                    "subscription_item": subscription["items"]["data"][0]["id"],
                },
            },
            "pricing": {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
            },
        }

    def pay_invoice(self, invoice: Data) -> Data:
        """Mark an invoice paid, with a payment intent, a charge and an invoice payment;
        returns the charge."""
        charge = self.charge(invoice["amount_due"], invoice["currency"], invoice["customer"])
        invoice["status"] = "paid"
        invoice["amount_paid"] = invoice["amount_due"]
        invoice["status_transitions"]["paid_at"] = self.now()
        invoice["_charge"] = charge["id"]
        self.save("invoices", invoice)
        self.add(
            "invoice_payments",
            {
                "object": "invoice_payment",
                "invoice": invoice["id"],
                "status": "paid",
                "amount_paid": invoice["amount_due"],
                "currency": invoice["currency"],
                "payment": {"type": "payment_intent", "payment_intent": charge["payment_intent"]},
            },
        )
        return charge

    # -- refunds and events ----------------------------------------------------------------

    def refund(
        self,
        charge_id: str,
        amount: int | None = None,
        *,
        status: str = "succeeded",
        metadata: Data | None = None,
    ) -> Data:
        """Refund ``amount`` (all that is left by default) of a charge."""
        charge = self.get("charges", charge_id)
        if charge is None:
            raise KeyError(charge_id)
        value = amount if amount is not None else charge["amount"] - charge["amount_refunded"]
        refund = self.add(
            "refunds",
            {
                "object": "refund",
                "amount": value,
                "charge": charge_id,
                "payment_intent": charge["payment_intent"],
                "currency": charge["currency"],
                "status": status,
                "reason": None,
                "metadata": metadata or {},
            },
        )
        if status in ("succeeded", "pending"):
            charge["amount_refunded"] += value
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            self.save("charges", charge)
        return refund

    def event(self, event_type: str, data: Data, *, created: int | None = None) -> Data:
        """The event Stripe sends about ``data`` as it is now (a snapshot)."""
        return self.add(
            "events",
            {
                "object": "event",
                "api_version": API_VERSION,
                "created": created or self.now(),
                "type": event_type,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "data": {"object": public(copy.deepcopy(data))},
            },
        )
