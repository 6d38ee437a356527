"""A fake of the Stripe API for the real ``stripe`` SDK: the one fake in the billing tests.

:class:`FakeStripe` is the payment sandbox's emulator (``quickscale.billing.sandbox.emulator``)
over an in-memory account: passed to ``stripe.StripeClient`` (through the
``QUICKSCALE_BILLING_STRIPE_CLIENT_OPTIONS`` setting) it answers the SDK's HTTP requests as
Stripe would, with Stripe's URLs for checkout and the portal, and delivers no events itself (a
test posts them with ``deliver``). What a test needs on top: ``store`` (a dict of dicts:
``fake.store["charges"][id]``, the stored objects themselves, changed in place by a test as
Stripe's objects change between reads), ``requests`` and :meth:`calls` (every request made),
``failing`` (paths answering 500), ``unreachable`` (every request fails on the network, raising
``stripe.APIConnectionError`` as the SDK's own HTTP clients do), ``latency`` (seconds each
request takes) and a clock of its own, :meth:`tick`, moving forward so each object and event
is newer than the last.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import stripe

from quickscale.billing.sandbox.account import COLLECTIONS, Data
from quickscale.billing.sandbox.emulator import Emulator
from quickscale.billing.sandbox.store import MemoryStore

__all__ = ["FakeStripe"]


class FakeStripe(Emulator):
    name = "fake-stripe"
    store: MemoryStore

    def __init__(self) -> None:
        super().__init__(MemoryStore(COLLECTIONS), deliver=False)
        self.requests: list[tuple[str, str, Data]] = []
        self.clock = int(time.time())
        #: Paths answering 500 (to test what a Stripe failure does).
        self.failing: set[str] = set()
        #: Stripe out of reach: every request fails before any answer (a DNS failure, a
        #: timeout, a connection refused).
        self.unreachable = False
        #: Seconds each request takes, as over a network (other threads run meanwhile).
        self.latency = 0.0

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        if self.unreachable:
            raise stripe.APIConnectionError(
                "Unexpected error communicating with Stripe. (Network error: ConnectTimeout)",
                should_retry=True,
            )
        return super().request(method, url, headers, post_data, _usage=_usage)

    def respond(
        self, method: str, path: str, params: Data, headers: dict[str, str]
    ) -> tuple[int, Data, dict[str, str]]:
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.requests.append((method, path, params))
            if path in self.failing:
                body = {"type": "api_error", "message": "Something went wrong at the fake."}
                return 500, {"error": body}, {}
            return super().respond(method, path, params, headers)

    def now(self) -> int:
        return self.tick()

    def tick(self, seconds: int = 1) -> int:
        """Stripe's clock, moving forward so each event is newer than the last."""
        self.clock += seconds
        return self.clock

    def checkout_url(self, session_id: str) -> str:
        return f"https://checkout.stripe.test/c/pay/{session_id}"

    def portal_url(self, session_id: str) -> str:
        return f"https://billing.stripe.test/p/session/{session_id}"

    def calls(
        self, method: str | None = None, path: str | None = None
    ) -> list[tuple[str, str, Data]]:
        return [
            call
            for call in self.requests
            if (method is None or call[0] == method) and (path is None or call[1] == path)
        ]
