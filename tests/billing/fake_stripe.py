"""A fake of the Stripe API for the real ``stripe`` SDK: the one fake in the billing tests.

:class:`FakeStripe` is a ``stripe.HTTPClient``: passed to ``stripe.StripeClient`` (through the
``QUICKSCALE_BILLING_STRIPE_CLIENT_OPTIONS`` setting) it answers the SDK's HTTP requests from an
in-memory account instead of the network. It keeps objects shaped as the SDK's API version
returns them, serves the endpoints billing calls (retrieve, the lists billing filters, the
creates and updates it makes), answers unknown objects with Stripe's 404 ``resource_missing``
error, and records every request. Builders (:meth:`FakeStripe.product`, ``price``, ...) set the
account up; :meth:`FakeStripe.event` makes the event Stripe would send for an object as it is.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

API_VERSION = "2026-10-28.endive"
#: Collections by URL path; ids of each start with the prefix.
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
Data = dict[str, Any]


def decode(pairs: list[tuple[str, str]]) -> Data:
    """Stripe's form encoding (``items[0][price]=...``) as nested dicts and lists."""
    root: Data = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = None if last else parts[index + 1]
            container: Any = [] if following is not None and following.isdigit() else {}
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if last:
                    node[position] = value
                else:
                    if node[position] is None:
                        node[position] = container
                    node = node[position]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, container)
    return root


def truthy(value: Any) -> bool:
    return str(value).lower() == "true"


class FakeStripe(stripe.HTTPClient):
    name = "fake-stripe"

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[str, dict[str, Data]] = {name: {} for name in COLLECTIONS}
        self.requests: list[tuple[str, str, Data]] = []
        self.numbers = itertools.count(1)
        self.lock = threading.RLock()
        self.clock = int(time.time())
        #: Paths answering 500 (to test what a Stripe failure does).
        self.failing: set[str] = set()
        #: Seconds each request takes, as over a network (other threads run meanwhile).
        self.latency = 0.0

    # -- the HTTP client interface ------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        parts = urlsplit(url)
        params = decode(parse_qsl(parts.query, keep_blank_values=True))
        if post_data:
            params.update(decode(parse_qsl(post_data, keep_blank_values=True)))
        path = parts.path.removeprefix("/v1/")
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.requests.append((method.upper(), path, params))
            if path in self.failing:
                return self._error(500, "api_error", "Something went wrong at the fake.")
            status, body = self._route(method.upper(), path, params)
        return json.dumps(body), status, {"Request-Id": f"req_{next(self.numbers)}"}

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass

    # -- routing ------------------------------------------------------------------------------

    def _route(self, method: str, path: str, params: Data) -> tuple[int, Data]:
        if path.endswith("/line_items") and path.startswith("checkout/sessions/"):
            session = self.store["checkout/sessions"].get(path.split("/")[2])
            if session is None:
                return self._missing(path)
            return 200, self._page(path, list(session.get("_line_items", [])), params)
        collection, _, stripe_id = path.rpartition("/")
        if collection in COLLECTIONS:
            found = self.store[collection].get(stripe_id)
            if method == "GET":
                if found is None:
                    return self._missing(path)
                return 200, self._expand(self._public(found), params.get("expand"))
            if method == "POST" and collection == "subscriptions":
                if found is None:
                    return self._missing(path)
                return 200, self._public(self._update_subscription(found, params))
        if path in COLLECTIONS:
            if method == "GET":
                return 200, self._page(path, self._filter(path, params), params)
            if method == "POST":
                return 200, self._public(self._create(path, params))
        return self._missing(path)

    def _error(self, status: int, kind: str, message: str, code: str = "") -> Any:
        body = {"error": {"type": kind, "message": message, "code": code or None}}
        return json.dumps(body), status, {}

    def _missing(self, path: str) -> tuple[int, Data]:
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such object: '{path}'",
            }
        }

    @staticmethod
    def _public(data: Data) -> Data:
        return {key: value for key, value in data.items() if not key.startswith("_")}

    def _expand(self, data: Data, expand: Any) -> Data:
        data = copy.deepcopy(data)
        for path in expand or []:
            field = path.removeprefix("data.")
            value = data.get(field)
            if isinstance(value, str):
                for collection in self.store.values():
                    if value in collection:
                        data[field] = self._public(copy.deepcopy(collection[value]))
        return data

    def _page(self, path: str, items: list[Data], params: Data) -> Data:
        limit = int(params.get("limit") or 10)
        after = params.get("starting_after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        expand = params.get("expand")
        page = [self._expand(self._public(item), expand) for item in items[:limit]]
        return {
            "object": "list",
            "url": f"/v1/{path}",
            "has_more": len(items) > limit,
            "data": page,
        }

    def _filter(self, path: str, params: Data) -> list[Data]:
        items = list(self.store[path].values())

        def keep(item: Data) -> bool:
            created = params.get("created")
            if (
                isinstance(created, dict)
                and "gte" in created
                and item.get("created", 0) < int(created["gte"])
            ):
                return False
            if path == "prices" and "active" in params:
                return bool(item["active"]) == truthy(params["active"])
            if path == "subscriptions":
                status = params.get("status")
                return status in (None, "all") or item["status"] == status
            if path == "checkout/sessions":
                return all(
                    item.get(name) == params[name]
                    for name in ("payment_intent", "status", "customer")
                    if name in params
                )
            if path == "invoices":
                return "status" not in params or item["status"] == params["status"]
            if path == "refunds":
                return "charge" not in params or item["charge"] == params["charge"]
            if path == "invoice_payments":
                if "invoice" in params and item["invoice"] != params["invoice"]:
                    return False
                wanted = (params.get("payment") or {}).get("payment_intent")
                return wanted is None or item["payment"].get("payment_intent") == wanted
            return True

        # Stripe lists newest first.
        return sorted(
            (item for item in items if keep(item)),
            key=lambda item: (item.get("created", 0), item["id"]),
            reverse=True,
        )

    def _create(self, path: str, params: Data) -> Data:
        if path == "customers":
            return self.add(
                "customers",
                {
                    "object": "customer",
                    "email": params.get("email"),
                    "metadata": params.get("metadata") or {},
                },
            )
        if path == "checkout/sessions":
            items = [
                {
                    "id": f"li_{next(self.numbers)}",
                    "object": "item",
                    "price": self.store["prices"][item["price"]],
                    "quantity": int(item.get("quantity") or 1),
                }
                for item in params.get("line_items") or []
            ]
            session = self.add(
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
                    "_line_items": items,
                },
            )
            session["url"] = f"https://checkout.stripe.test/c/pay/{session['id']}"
            return session
        if path == "billing_portal/sessions":
            return self.add(
                "billing_portal/sessions",
                {
                    "object": "billing_portal.session",
                    "customer": params.get("customer"),
                    "return_url": params.get("return_url"),
                    "url": f"https://billing.stripe.test/p/session/{next(self.numbers)}",
                },
            )
        raise NotImplementedError(f"The fake cannot create {path}.")

    def _update_subscription(self, subscription: Data, params: Data) -> Data:
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = truthy(params["cancel_at_period_end"])
        for change in params.get("items") or []:
            item = next(i for i in subscription["items"]["data"] if i["id"] == change["id"])
            item["price"] = copy.deepcopy(self.store["prices"][change["price"]])
            if params.get("billing_cycle_anchor") == "now":
                item["current_period_start"] = self.tick()
                item["current_period_end"] = self.tick() + 30 * 86400
        return subscription

    # -- building the account ----------------------------------------------------------------

    def tick(self, seconds: int = 1) -> int:
        """Stripe's clock, moving forward so each event is newer than the last."""
        self.clock += seconds
        return self.clock

    def add(self, collection: str, data: Data) -> Data:
        with self.lock:
            data.setdefault("id", f"{COLLECTIONS[collection]}_{next(self.numbers)}")
            data.setdefault("created", self.tick())
            data.setdefault("livemode", False)
            self.store[collection][data["id"]] = data
            return data

    def product(self, name: str, *, credits: str | None = None, active: bool = True) -> Data:
        return self.add(
            "products",
            {
                "object": "product",
                "name": name,
                "description": f"{name} for testing",
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
        currency: str = "usd",
        active: bool = True,
    ) -> Data:
        return self.add(
            "prices",
            {
                "object": "price",
                "product": product["id"],
                "active": active,
                "currency": currency,
                "unit_amount": unit_amount,
                "nickname": None,
                "lookup_key": None,
                "type": "recurring" if interval else "one_time",
                "recurring": (
                    {"interval": interval, "interval_count": 1, "usage_type": "licensed"}
                    if interval
                    else None
                ),
                "metadata": {"credits": credits} if credits else {},
            },
        )

    def customer(self, user: Any) -> Data:
        return self.add(
            "customers",
            {
                "object": "customer",
                "email": user.email,
                "metadata": {"quickscale_user_id": str(user.pk)},
            },
        )

    def paid_session(
        self, customer: Data, price: Data, *, user: Any = None, payment_status: str = "paid"
    ) -> Data:
        """A completed pack checkout session, its payment intent and its charge."""
        intent = self.add("payment_intents", {"object": "payment_intent"})
        charge = self.add(
            "charges",
            {
                "object": "charge",
                "amount": price["unit_amount"],
                "amount_refunded": 0,
                "currency": price["currency"],
                "payment_intent": intent["id"],
                "refunded": False,
                "customer": customer["id"],
            },
        )
        metadata = {
            "quickscale_price": price["id"],
            "quickscale_credits": price["metadata"]["credits"],
        }
        if user is not None:
            metadata["quickscale_user_id"] = str(user.pk)
        session = self.add(
            "checkout/sessions",
            {
                "object": "checkout.session",
                "mode": "payment",
                "status": "complete",
                "payment_status": payment_status,
                "customer": customer["id"],
                "client_reference_id": str(user.pk) if user is not None else None,
                "metadata": metadata,
                "amount_total": price["unit_amount"],
                "currency": price["currency"],
                "payment_intent": intent["id"],
                "subscription": None,
                "url": None,
                "_line_items": [
                    {
                        "id": f"li_{next(self.numbers)}",
                        "object": "item",
                        "price": price,
                        "quantity": 1,
                    }
                ],
                "_charge": charge["id"],
            },
        )
        return session

    def subscription(
        self,
        customer: Data,
        price: Data,
        *,
        status: str = "active",
        period_start: int | None = None,
        period_end: int | None = None,
    ) -> Data:
        start = period_start or int(time.time()) - 60
        end = period_end or start + 30 * 86400
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
                "metadata": {},
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": f"si_{next(self.numbers)}",
                            "object": "subscription_item",
                            "price": copy.deepcopy(price),
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
                "amount_paid": price["unit_amount"] if status == "paid" else 0,
                "attempt_count": 1,
                "billing_reason": "subscription_cycle",
                "parent": {
                    "type": "subscription_details",
                    "quote_details": None,
                    "subscription_details": {"subscription": subscription["id"], "metadata": {}},
                },
                "status_transitions": {"paid_at": self.clock if status == "paid" else None},
                "lines": {
                    "object": "list",
                    "has_more": False,
                    "data": [
                        {
                            "id": f"il_{next(self.numbers)}",
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
                                    "subscription_item": item["id"],
                                },
                            },
                            "pricing": {
                                "type": "price_details",
                                "price_details": {
                                    "price": price["id"],
                                    "product": price["product"],
                                },
                            },
                        }
                    ],
                },
            },
        )
        if status == "paid":
            self.pay_invoice(invoice)
        return invoice

    def pay_invoice(self, invoice: Data) -> Data:
        """Mark an invoice paid, with a payment intent, a charge and an invoice payment."""
        invoice["status"] = "paid"
        invoice["amount_paid"] = invoice["amount_due"]
        invoice["status_transitions"]["paid_at"] = self.tick()
        intent = self.add("payment_intents", {"object": "payment_intent"})
        charge = self.add(
            "charges",
            {
                "object": "charge",
                "amount": invoice["amount_due"],
                "amount_refunded": 0,
                "currency": invoice["currency"],
                "payment_intent": intent["id"],
                "refunded": False,
                "customer": invoice["customer"],
            },
        )
        self.add(
            "invoice_payments",
            {
                "object": "invoice_payment",
                "invoice": invoice["id"],
                "status": "paid",
                "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
            },
        )
        invoice["_charge"] = charge["id"]
        return charge

    def refund(
        self, charge_id: str, amount: int | None = None, *, status: str = "succeeded"
    ) -> Data:
        charge = self.store["charges"][charge_id]
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
            },
        )
        if status in ("succeeded", "pending"):
            charge["amount_refunded"] += value
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return refund

    def event(self, event_type: str, data: Data, *, created: int | None = None) -> Data:
        """The event Stripe sends about ``data`` as it is now (a snapshot)."""
        return self.add(
            "events",
            {
                "object": "event",
                "api_version": API_VERSION,
                "created": created or self.tick(),
                "type": event_type,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "data": {"object": self._public(copy.deepcopy(data))},
            },
        )

    def calls(
        self, method: str | None = None, path: str | None = None
    ) -> list[tuple[str, str, Data]]:
        return [
            call
            for call in self.requests
            if (method is None or call[0] == method) and (path is None or call[1] == path)
        ]
