"""A bounded, mixed load from a bounded client: a few threads, a ceiling on requests per
second, a fixed end. Every request's time, latency, kind and status is recorded.

- API traffic (``Authorization: Bearer <key>``): inline runs (``text-statistics``), held runs
  (``sentiment``) and background runs (``document-report``), half of them with an
  ``Idempotency-Key``; keys replayed on purpose, and keys whose request got no answer or a 503
  sent again as a client retries; balances, run lists and runs; now and then a bad key (under
  the API's limit of failed authentications per address, which would block every request).
- Purchases: a customer logs in at ``/accounts/login/``, posts a pack to ``/stripe/checkout/``,
  opens the sandbox's checkout page and pays.
- Webhooks: stored Stripe events delivered again, signed with the sandbox's secret, shuffled.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

from faults.checks import NO_ANSWER, Replay, Sample

TIMEOUT = 15
WORDS = [
    *("good", "great", "happy", "calm", "bright", "bad", "terrible", "slow", "broken"),
    *("never", "not", "very", "the", "a", "report", "customer", "service", "credits"),
    *("invoice", "server", "latency", "queue", "worker", "ledger", "balance", "sweep"),
]
#: At most one bad key this often: the API blocks an address after 30 failed authentications
#: a minute, and every request of the harness comes from 127.0.0.1.
BAD_KEY_EVERY = 4.0


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    body: bytes = b""
    error: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def detail(self) -> str:
        if self.error:
            return self.error
        if self.status >= 400:
            data = self.json()
            if isinstance(data, dict) and isinstance(data.get("error"), dict):
                return str(data["error"].get("code"))
            page = self.body.decode(errors="replace")
            if "<title>" in page:
                # An HTML page: its title says enough (Django's debug page names the exception).
                page = page.split("<title>", 1)[1].split("</title>", 1)[0]
            return " ".join(page.split())[:300]
        return ""


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Answer(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.msg.get_all("Set-Cookie") or [],
            data,
        )
    except (OSError, http.client.HTTPException) as error:
        return Answer(NO_ANSWER, error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()


class Recorder:
    """Every request's sample, and what the API told the clients."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.replays: list[Replay] = []
        #: Run id -> cost, for every run answered as succeeded.
        self.succeeded: dict[int, str] = {}
        #: "email|key" -> the runs its answers named.
        self.keys: dict[str, set[int]] = defaultdict(set)
        self.paid_sessions: list[str] = []
        self.lock = threading.Lock()

    def timed(self, kind: str, call: Callable[[], Answer]) -> Answer:
        start = time.time()
        answer = call()
        sample = Sample(start, time.time() - start, kind, answer.status, answer.detail())
        with self.lock:
            self.samples.append(sample)
        return answer

    def samples_between(self, start: float, end: float) -> list[Sample]:
        with self.lock:
            return [s for s in self.samples if start <= s.start < end]


@dataclass
class Customer:
    email: str
    token: str
    password: str
    runs: list[int] = field(default_factory=list)
    cookies: dict[str, str] = field(default_factory=dict)
    logged_in: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Keyed:
    """A run request sent with an ``Idempotency-Key``."""

    customer: Customer
    key: str
    slug: str
    body: bytes
    first_run: int | None = None
    attempts: int = 1


class Pacer:
    """Hands out send times no closer than ``1 / rate`` apart, until ``end``; a thread that
    falls behind does not make up for it later."""

    def __init__(self, rate: float, end: float) -> None:
        self.interval = 1 / rate
        self.end = end
        self.next = time.time()
        self.lock = threading.Lock()

    def wait(self) -> bool:
        with self.lock:
            slot = max(self.next, time.time())
            self.next = slot + self.interval
        if slot >= self.end:
            return False
        time.sleep(max(0.0, slot - time.time()))
        return time.time() < self.end


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class Load:
    """One phase's load: ``threads`` API clients sharing ``rate`` requests a second, a buyer
    every ``purchase_every`` seconds and the webhook deliveries, all until ``end``."""

    def __init__(
        self,
        *,
        port: int,
        customers: Sequence[Customer],
        packs: Sequence[str],
        webhook_secret: str,
        recorder: Recorder,
        rate: float,
        threads: int,
        purchase_every: float,
        seed: int,
    ) -> None:
        self.port = port
        self.customers = list(customers)
        self.packs = list(packs)
        self.webhook_secret = webhook_secret
        self.recorder = recorder
        self.rate = rate
        self.threads = threads
        self.purchase_every = purchase_every
        self.rng = random.Random(seed)  # noqa: S311 (a load, not a secret)
        self.rng_lock = threading.Lock()
        self.replayable: list[Keyed] = []
        self.retries: list[Keyed] = []
        self.keyed_lock = threading.Lock()
        self.last_bad_key = 0.0
        self.running: list[threading.Thread] = []
        self.pacer = Pacer(rate, time.time())

    # The shared random generator is not thread-safe enough to be shared without a lock.
    def choice(self, options: Sequence[Any]) -> Any:
        with self.rng_lock:
            return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        with self.rng_lock:
            return self.rng.random() < p

    def start(self, end: float, deliveries: Sequence[dict[str, Any]] = ()) -> None:
        self.pacer = Pacer(self.rate, end)
        for number in range(self.threads):
            self._spawn(f"api-{number}", self._api)
        self._spawn("buyer", self._buyer)
        if deliveries:
            self._spawn("webhooks", self._webhooks, list(deliveries))

    @property
    def end(self) -> float:
        return self.pacer.end

    def stop(self) -> None:
        """End the load now rather than at its planned end (deliveries left are sent)."""
        self.pacer.end = min(self.pacer.end, time.time())

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self.running)

    def join(self) -> None:
        for thread in self.running:
            thread.join()
        self.running = []

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.running.append(thread)

    # --- API ---------------------------------------------------------------------------------

    def _api(self) -> None:
        actions: list[tuple[Callable[[], None], int]] = [
            (lambda: self._run("text-statistics"), 26),
            (lambda: self._run("sentiment"), 18),
            # Two task workers finish about 1.3 reports (1.5 s each) a second: about 3 % of
            # the requests are reports, so the queue drains while the load goes on.
            (lambda: self._run("document-report"), 3),
            (self._replay, 10),
            (self._retry, 6),
            (self._balance, 14),
            (self._runs, 8),
            (self._run_status, 10),
        ]
        calls = [call for call, weight in actions for _ in range(weight)]
        while self.pacer.wait():
            if time.time() - self.last_bad_key > BAD_KEY_EVERY:
                self.last_bad_key = time.time()
                self._bad_key()
                continue
            self.choice(calls)()

    def _api_call(
        self,
        kind: str,
        customer: Customer,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        key: str | None = None,
        token: str | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token or customer.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.recorder.timed(
            kind, lambda: request(self.port, method, path, body=body, headers=headers)
        )

    def _input(self, slug: str) -> bytes:
        with self.rng_lock:
            words = self.rng.randint(5, 60)
            data: dict[str, Any] = {"text": text(self.rng, words)}
        if slug == "document-report":
            data["title"] = "Fault harness"
        return json.dumps({"input": data}).encode()

    def submit(self, customer: Customer, slug: str) -> int | None:
        """One run for ``customer``, without a key; its id when one was made."""
        answer = self._api_call(
            f"run:{slug}",
            customer,
            "POST",
            f"/api/v1/services/{slug}/runs",
            body=self._input(slug),
        )
        return self._note_run(customer, answer)

    def _run(self, slug: str) -> None:
        customer = self.choice(self.customers)
        body = self._input(slug)
        if self.chance(0.5):
            self._send_keyed(Keyed(customer, f"faults-{uuid.uuid4()}", slug, body), f"run:{slug}")
            return
        answer = self._api_call(
            f"run:{slug}", customer, "POST", f"/api/v1/services/{slug}/runs", body=body
        )
        self._note_run(customer, answer)

    def _post_keyed(self, kind: str, keyed: Keyed) -> tuple[Answer, int | None]:
        """Send the keyed request; the answer and the run it named (recorded under its key)."""
        answer = self._api_call(
            kind,
            keyed.customer,
            "POST",
            f"/api/v1/services/{keyed.slug}/runs",
            body=keyed.body,
            key=keyed.key,
        )
        run = self._note_run(keyed.customer, answer)
        if run is not None:
            with self.recorder.lock:
                self.recorder.keys[f"{keyed.customer.email}|{keyed.key}"].add(run)
        return answer, run

    def _send_keyed(self, keyed: Keyed, kind: str) -> None:
        answer, run = self._post_keyed(kind, keyed)
        if run is not None:
            if keyed.first_run is None:
                keyed.first_run = run
                with self.keyed_lock:
                    self.replayable.append(keyed)
        elif answer.status in (NO_ANSWER, 503) and keyed.attempts < 6:
            keyed.attempts += 1
            with self.keyed_lock:
                self.retries.append(keyed)

    def _note_run(self, customer: Customer, answer: Answer) -> int | None:
        data = answer.json()
        if answer.status not in (201, 202) or not isinstance(data, dict) or "id" not in data:
            return None
        run = int(data["id"])
        with customer.lock:
            customer.runs.append(run)
        if answer.status == 201 and data.get("status") == "succeeded":
            with self.recorder.lock:
                self.recorder.succeeded[run] = str(data.get("cost"))
        return run

    def _replay(self) -> None:
        with self.keyed_lock:
            keyed = self.choice(self.replayable) if self.replayable else None
        if keyed is None:
            self._run("text-statistics")
            return
        answer, run = self._post_keyed(f"replay:{keyed.slug}", keyed)
        assert keyed.first_run is not None
        with self.recorder.lock:
            self.recorder.replays.append(
                Replay(
                    keyed.key,
                    keyed.first_run,
                    run,
                    answer.status,
                    answer.headers.get("idempotent-replayed") == "true",
                )
            )

    def _retry(self) -> None:
        with self.keyed_lock:
            keyed = self.retries.pop(0) if self.retries else None
        if keyed is None:
            self._balance()
            return
        self._send_keyed(keyed, f"retry:{keyed.slug}")

    def _balance(self) -> None:
        self._api_call("balance", self.choice(self.customers), "GET", "/api/v1/credits/balance")

    def _runs(self) -> None:
        self._api_call("runs", self.choice(self.customers), "GET", "/api/v1/runs?limit=10")

    def _run_status(self) -> None:
        customer = self.choice(self.customers)
        with customer.lock:
            run = self.choice(customer.runs[-50:]) if customer.runs else None
        if run is None:
            self._balance()
            return
        self._api_call("run-status", customer, "GET", f"/api/v1/runs/{run}")

    def _bad_key(self) -> None:
        customer = self.choice(self.customers)
        # A well-formed token of a key that does not exist, or one with a broken checksum.
        token = customer.token[:-1] + ("A" if customer.token[-1] != "A" else "B")
        self._api_call("bad-key", customer, "GET", "/api/v1/credits/balance", token=token)

    # --- purchases -------------------------------------------------------------------------

    def _buyer(self) -> None:
        turn = 0
        while time.time() + self.purchase_every < self.end:
            started = time.time()
            customer = self.customers[turn % len(self.customers)]
            turn += 1
            self._purchase(customer, self.packs[turn % len(self.packs)])
            time.sleep(max(0.0, self.purchase_every - (time.time() - started)))

    def _page(
        self,
        kind: str,
        customer: Customer,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
    ) -> Answer:
        headers = {}
        if customer.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in customer.cookies.items())
        body = None
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": customer.cookies.get("csrftoken", "")}
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        answer = self.recorder.timed(
            kind, lambda: request(self.port, method, path, body=body, headers=headers)
        )
        for header in answer.cookies:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    customer.cookies.pop(name, None)
                else:
                    customer.cookies[name] = morsel.value
        return answer

    def _purchase(self, customer: Customer, price: str) -> None:
        if not customer.logged_in:
            if self._page("login-page", customer, "GET", "/accounts/login/").status != 200:
                return
            login = self._page(
                "login",
                customer,
                "POST",
                "/accounts/login/",
                {"login": customer.email, "password": customer.password},
            )
            if login.status != 302:
                return
            customer.logged_in = True
        checkout = self._page("checkout", customer, "POST", "/stripe/checkout/", {"price": price})
        if checkout.status in (302, 403) and "/accounts/login/" in checkout.headers.get(
            "location", ""
        ):
            customer.logged_in = False
            return
        if checkout.status != 303:
            return
        page = urlsplit(checkout.headers["location"]).path
        session = page.rstrip("/").rsplit("/", 1)[-1]
        if self._page("sandbox-page", customer, "GET", page).status != 200:
            return
        paid = self._page("pay", customer, "POST", page, {"action": "pay"})
        if paid.status not in (302, 303):
            return
        with self.recorder.lock:
            self.recorder.paid_sessions.append(session)
        success = urlsplit(paid.headers["location"])
        self._page("success", customer, "GET", success.path + "?" + success.query)

    # --- webhooks --------------------------------------------------------------------------

    def _webhooks(self, deliveries: list[dict[str, Any]]) -> None:
        """Spread the deliveries over the load's time; once it is over, send what is left."""
        import stripe

        start = time.time()
        spacing = max(0.05, (self.end - start - 2) / max(1, len(deliveries)))
        for number, event in enumerate(deliveries):
            if time.time() < self.end:
                time.sleep(max(0.0, min(start + number * spacing, self.end) - time.time()))
            self.deliver(event, stripe)

    def deliver(self, event: dict[str, Any], stripe: Any = None) -> Answer:
        if stripe is None:
            import stripe
        body = json.dumps(event["payload"])
        header = stripe.WebhookSignature.generate_signature_header(body, self.webhook_secret)
        return self.recorder.timed(
            f"webhook:{event['type']}",
            lambda: request(
                self.port,
                "POST",
                "/stripe/webhook/",
                body=body.encode(),
                headers={"Content-Type": "application/json", "Stripe-Signature": header},
            ),
        )
