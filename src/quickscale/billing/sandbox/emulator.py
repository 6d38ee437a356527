"""The Stripe REST API, answered from the sandbox's account: a ``stripe.HTTPClient``.

Given to ``stripe.StripeClient`` as its ``http_client`` (as
:func:`quickscale.billing.client.get_client` does while the sandbox is active), it answers the
SDK's requests as Stripe would, in the shapes of
:data:`~quickscale.billing.sandbox.account.API_VERSION`: retrieving objects (with ``expand``),
the lists billing filters (newest first, paginated), the creates and updates billing makes,
and Stripe's errors (``resource_missing`` with 404, ``idempotency_error``...). A POST repeated
with the same ``Idempotency-Key`` (the SDK sends one with every POST) gets the first answer and
changes nothing.

The events a change makes are delivered to the webhook endpoint once the caller's transaction
commits (at once outside a transaction), by :mod:`~quickscale.billing.sandbox.delivery`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe
from django.db import transaction

from quickscale.billing.sandbox import lifecycle
from quickscale.billing.sandbox.account import COLLECTIONS, Account, ApiError, Data, public
from quickscale.billing.sandbox.store import DatabaseStore, Store

__all__ = ["Emulator", "decode"]

IDEMPOTENCY = "idempotency_keys"


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
            elif last:
                node[part] = value
            else:
                node = node.setdefault(part, container)
    return root


class Emulator(Account, stripe.HTTPClient):
    """The sandbox's Stripe API. ``deliver`` sends the events changes make to the webhook
    endpoint (off in tests that deliver events themselves)."""

    name = "quickscale-sandbox"

    def __init__(self, store: Store, *, deliver: bool = True) -> None:
        Account.__init__(self, store)
        stripe.HTTPClient.__init__(self)
        self.deliver = deliver

    @classmethod
    def for_site(cls) -> Emulator:
        """The emulator of the site's sandbox: its account in the database."""
        return cls(DatabaseStore())

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
            text = post_data.decode() if isinstance(post_data, bytes) else str(post_data)
            params.update(decode(parse_qsl(text, keep_blank_values=True)))
        path = parts.path.removeprefix("/v1/")
        status, body, extra = self.respond(method.upper(), path, params, dict(headers or {}))
        return json.dumps(body), status, {"Request-Id": f"req_{secrets.token_hex(8)}", **extra}

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("The payment sandbox does not stream.")

    def close(self) -> None:
        pass

    def respond(
        self, method: str, path: str, params: Data, headers: dict[str, str]
    ) -> tuple[int, Data, dict[str, str]]:
        """The status, JSON body and extra headers Stripe would answer."""
        with self.lock:
            try:
                if method == "GET":
                    return 200, self.read(path, params), {}
                if method != "POST":
                    raise self.unrecognised(method, path)
                key = headers.get("Idempotency-Key", "")
                with self.store.transaction():
                    if key:
                        return self.write_once(path, params, key)
                    return (*self.write(path, params), {})
            except ApiError as error:
                return error.status, error.body, {}

    @staticmethod
    def unrecognised(method: str, path: str) -> ApiError:
        """The error for a request the sandbox does not emulate."""
        return ApiError(404, f"The payment sandbox does not emulate {method} /v1/{path}.", code="")

    @staticmethod
    def missing(path: str) -> ApiError:
        """Stripe's ``resource_missing`` error."""
        return ApiError(404, f"No such object: '{path}'", code="resource_missing")

    # -- reading ------------------------------------------------------------------------------

    def read(self, path: str, params: Data) -> Data:
        """Answer a GET: a list, a checkout session's line items, or one object (expanded as
        asked)."""
        if path.startswith("checkout/sessions/") and path.endswith("/line_items"):
            session = self.get("checkout/sessions", path.split("/")[2])
            if session is None:
                raise self.missing(path)
            return self.page(path, list(session.get("_line_items", [])), params)
        if path in COLLECTIONS:
            return self.page(path, self.listed(path, params), params)
        collection, _, stripe_id = path.rpartition("/")
        found = self.get(collection, stripe_id) if collection in COLLECTIONS else None
        if found is None:
            raise self.missing(path)
        return self.expand(public(found), params.get("expand"))

    def expand(self, data: Data, expand: Any) -> Data:
        """A copy of the object with the fields named by ``expand`` replaced by the objects they
        refer to."""
        data = copy.deepcopy(data)
        for path in expand or []:
            field = path.removeprefix("data.")
            value = data.get(field)
            if isinstance(value, str):
                found = self.store.locate(value)
                if found is not None:
                    data[field] = public(copy.deepcopy(found))
        return data

    def page(self, path: str, items: list[Data], params: Data) -> Data:
        """One page of a list, as Stripe pages it (``limit``, ``starting_after``)."""
        limit = int(params.get("limit") or 10)
        after = params.get("starting_after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        expand = params.get("expand")
        return {
            "object": "list",
            "url": f"/v1/{path}",
            "has_more": len(items) > limit,
            "data": [self.expand(public(item), expand) for item in items[:limit]],
        }

    def listed(self, path: str, params: Data) -> list[Data]:
        """The objects of a list request, newest first, as Stripe lists them."""
        created = params.get("created")
        since = int(created["gte"]) if isinstance(created, dict) and "gte" in created else None
        matching = [
            item
            for item in self.store.objects(path)
            if (since is None or item.get("created", 0) >= since) and matches(path, item, params)
        ]
        order = {id(item): index for index, item in enumerate(matching)}
        return sorted(
            matching, key=lambda item: (item.get("created", 0), order[id(item)]), reverse=True
        )

    # -- writing ------------------------------------------------------------------------------

    def write_once(self, path: str, params: Data, key: str) -> tuple[int, Data, dict[str, str]]:
        """A POST with an idempotency key: the first answer again for a repeat (the same
        request, marked ``Idempotent-Replayed``), an ``idempotency_error`` for another request
        with the key."""
        request = hashlib.sha256(json.dumps([path, params], sort_keys=True).encode()).hexdigest()
        record_id = "idk_" + hashlib.sha256(key.encode()).hexdigest()[:40]
        record, new = self.store.claim(IDEMPOTENCY, {"id": record_id, "request": request})
        if not new:
            if record.get("request") != request:
                raise ApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    kind="idempotency_error",
                )
            if "body" in record:
                return int(record["status"]), dict(record["body"]), {"Idempotent-Replayed": "true"}
        try:
            status, body = self.write(path, params)
        except ApiError:
            self.store.remove(IDEMPOTENCY, record_id)
            raise
        record.update(status=status, body=body)
        self.store.save(IDEMPOTENCY, record)
        return status, body, {}

    def write(self, path: str, params: Data) -> tuple[int, Data]:
        """Answer a POST: create or update the object, and publish the events the change makes."""
        events: list[Data] = []
        collection, _, stripe_id = path.rpartition("/")
        if path == "customers":
            result = self.add(
                "customers",
                {
                    "object": "customer",
                    "email": params.get("email"),
                    "metadata": params.get("metadata") or {},
                },
            )
        elif path == "checkout/sessions":
            result = lifecycle.create_checkout_session(self, params)
        elif path == "billing_portal/sessions":
            result = lifecycle.create_portal_session(self, params)
        elif path in ("products", "prices"):
            result, events = lifecycle.create_catalog_object(self, path, params)
        elif path == "refunds":
            result, events = lifecycle.create_refund(self, params)
        elif collection in ("products", "prices", "subscriptions"):
            found = self.get(collection, stripe_id, for_update=True)
            if found is None:
                raise self.missing(path)
            if collection == "subscriptions":
                result, events = lifecycle.update_subscription(self, found, params)
            else:
                result, events = lifecycle.update_catalog_object(self, collection, found, params)
        else:
            raise self.unrecognised("POST", path)
        self.publish(events)
        return 200, public(result)

    def publish(self, events: list[Data]) -> None:
        """Send the events to the webhook endpoint once the current transaction commits."""
        if self.deliver and events:
            from quickscale.billing.sandbox import delivery

            transaction.on_commit(partial(delivery.deliver, events))


def matches(path: str, item: Data, params: Data) -> bool:
    """Whether an object passes the filters of a list request."""
    if path == "prices" and "active" in params:
        return bool(item["active"]) == lifecycle.truthy(params["active"])
    if path == "subscriptions":
        status = params.get("status")
        if "customer" in params and item["customer"] != params["customer"]:
            return False
        return status in (None, "all") or item["status"] == status
    if path == "checkout/sessions":
        return all(
            item.get(name) == params[name]
            for name in ("payment_intent", "status", "customer")
            if name in params
        )
    if path == "invoices":
        return "status" not in params or item["status"] == params["status"]
    if path in ("refunds", "charges"):
        return all(
            item.get(name) == params[name]
            for name in ("charge", "payment_intent")
            if name in params
        )
    if path == "invoice_payments":
        if "invoice" in params and item["invoice"] != params["invoice"]:
            return False
        if "status" in params and item["status"] != params["status"]:
            return False
        wanted = (params.get("payment") or {}).get("payment_intent")
        return wanted is None or item["payment"].get("payment_intent") == wanted
    return True
