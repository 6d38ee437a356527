"""The Stripe webhook on PostgreSQL: verified deliveries accepted per second, against a bare view.

Deliveries per second of ``POST /stripe/webhook/`` (a ~2 KB ``checkout.session.completed``
event, each with a new event id, signed with ``stripe.WebhookSignature.generate_signature_header``):
the signature verified, the body parsed and checked, the event stored (one ``INSERT ... ON
CONFLICT DO NOTHING``) and its processing enqueued with processing deferred, as a ratio to a
bare Django view that runs one ``INSERT`` of the same body, in the same run, through the same
stack. Two queues: ``django_tasks_db`` (the enqueue is a second ``INSERT``, what a production
site with database workers does) and Django's dummy backend (the enqueue only keeps the task in
memory: the webhook's own cost). Nothing is processed while measuring.

Requests go to Django's WSGI handler in this process (the middleware of the example project,
without HTTP parsing, which costs both views the same), from 1 and from 4 threads, each with its
own database connection; the modes take turns over several rounds and the figures are medians.
Each body is made and signed by the client just before it is sent (a few µs, the same in
every mode). After the runs the
stored events, queued tasks and bare rows are counted against the 200s answered. Last, the
webhook's steps (verify, store, enqueue) are timed one by one in this process, to show where a
delivery's time goes.

``python -m benchmarks billing [--seconds S] [--rounds N] [--threads 1,4] [--quick]``
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import (
    BenchmarkError,
    base_arguments,
    bench_database,
    median,
    migrate,
    setup_django,
    table,
)

SECRET = "whsec_benchmark_not_secret"
WEBHOOK = "/stripe/webhook/"
BARE = "/bare/insert/"
BARE_TABLE = "bench_billing_bare"
BARE_INSERT = f"INSERT INTO {BARE_TABLE} (received_at, body) VALUES (now(), %s::jsonb)"


@dataclass(frozen=True)
class Mode:
    name: str
    label: str
    path: str
    tasks: dict[str, Any] | None = None


DB_QUEUE = Mode(
    "webhook-db",
    "webhook, django_tasks_db queue",
    WEBHOOK,
    {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
)
DUMMY_QUEUE = Mode(
    "webhook-dummy",
    "webhook, dummy queue",
    WEBHOOK,
    {
        "default": {
            "BACKEND": (
                "django.tasks.backends.dummy.DummyBackend"  # Django 6
                if importlib.util.find_spec("django.tasks")
                else "django_tasks.backends.dummy.DummyBackend"
            )
        }
    },
)
BARE_MODE = Mode("bare", "bare view, one INSERT", BARE)
MODES = (DB_QUEUE, DUMMY_QUEUE, BARE_MODE)


@dataclass(frozen=True)
class Options:
    quick: bool
    seconds: float
    warmup: float
    rounds: int
    threads: tuple[int, ...]


def parse(argv: Sequence[str]) -> Options:
    parser = base_arguments("billing", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 4)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per run (default 1)")
    parser.add_argument("--rounds", type=int, help="rounds of every configuration (default 3)")
    parser.add_argument("--threads", help="comma-separated client thread counts (default 1,4)")
    args = parser.parse_args(list(argv))
    quick = args.quick
    return Options(
        quick=quick,
        seconds=args.seconds or (0.5 if quick else 4.0),
        warmup=args.warmup if args.warmup is not None else (0.2 if quick else 1.0),
        rounds=args.rounds or (1 if quick else 3),
        threads=tuple(int(n) for n in (args.threads or "1,4").split(",")),
    )


# -- the project -------------------------------------------------------------------------------


def settings() -> dict[str, Any]:
    return {
        "ALLOWED_HOSTS": ["testserver", "127.0.0.1"],
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "quickscale.core",
            "quickscale.credits",
            "quickscale.billing",
            "django_tasks_db",
        ],
        "ROOT_URLCONF": "benchmarks.bench_billing",
        # The example project's stack, without the pieces for pages and accounts.
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "QUICKSCALE_BILLING_STRIPE_SECRET_KEY": "sk_test_benchmark",
        "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY": "pk_test_benchmark",
        "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET": SECRET,
        "TASKS": DB_QUEUE.tasks,
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"console": {"class": "logging.StreamHandler"}},
            "root": {"handlers": ["console"], "level": "WARNING"},
        },
    }


def bare_insert(request: Any) -> Any:
    """The baseline: store the body with one INSERT, answer a small JSON body."""
    from django.db import connection
    from django.http import JsonResponse

    with connection.cursor() as cursor:
        cursor.execute(BARE_INSERT, [request.body.decode()])
    return JsonResponse({"received": True})


def __getattr__(name: str) -> Any:
    """``urlpatterns``, built when Django first asks (it is set up by then)."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from django.views.decorators.http import require_POST

    from quickscale.billing.webhooks import stripe_webhook

    return [
        path(WEBHOOK.strip("/") + "/", stripe_webhook),
        path(BARE.strip("/") + "/", csrf_exempt(require_POST(bare_insert))),
    ]


# -- the deliveries ----------------------------------------------------------------------------


def event_body(number: int, tag: str) -> str:
    """A checkout.session.completed event as Stripe sends it (about 2 KB)."""
    session = {
        "id": f"cs_test_{tag}_{number}",
        "object": "checkout.session",
        "amount_subtotal": 1000,
        "amount_total": 1000,
        "client_reference_id": "42",
        "currency": "usd",
        "customer": "cus_benchmark",
        "customer_details": {
            "address": {"city": None, "country": "FR", "line1": None, "postal_code": None},
            "email": "buyer@example.com",
            "name": "Ada Lovelace",
            "phone": None,
            "tax_exempt": "none",
        },
        "expires_at": 1_800_000_000,
        "livemode": False,
        "metadata": {
            "quickscale_credits": "100.00",
            "quickscale_price": "price_benchmark",
            "quickscale_user_id": "42",
        },
        "mode": "payment",
        "payment_intent": f"pi_{tag}_{number}",
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "status": "complete",
        "success_url": "https://example.com/stripe/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://example.com/stripe/checkout/canceled/",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
    }
    return json.dumps(
        {
            "id": f"evt_{tag}_{number}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "data": {"object": session},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": "checkout.session.completed",
        }
    )


class Deliveries:
    """A new signed delivery for each request: the body is the run's event with the next
    number in its ids (a string substitution), signed like Stripe signs (a few µs, the same
    for every mode)."""

    def __init__(self, tag: str) -> None:
        self.template = event_body(0, tag).replace(f"_{tag}_0", f"_{tag}_{{number}}")
        self.timestamp = int(time.time())
        self.numbers = itertools.count()
        self.lock = threading.Lock()

    def take(self) -> tuple[bytes, str]:
        import stripe

        with self.lock:
            number = next(self.numbers)
        body = self.template.replace("{number}", str(number))
        header = stripe.WebhookSignature.generate_signature_header(
            body, SECRET, timestamp=self.timestamp
        )
        return body.encode(), header


def post(handler: Any, path: str, body: bytes, signature: str) -> int:
    """One request through Django's WSGI handler; its status code."""
    status: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_USER_AGENT": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "CONTENT_TYPE": "application/json; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_STRIPE_SIGNATURE": signature,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    result = handler(environ, lambda code, headers, exc_info=None: status.append(code))
    try:
        b"".join(result)
    finally:
        result.close()  # request_finished: Django's end-of-request work, as a server does
    return int(status[0].split()[0])


@dataclass
class Run:
    rate: float
    answered: int
    latencies: list[float]


def load(mode: Mode, threads: int, options: Options, tag: str) -> Run:
    """Requests per second ``threads`` clients complete in the measured window."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    handler = WSGIHandler()
    deliveries = Deliveries(tag)
    window: list[float] = []
    counts = [0] * threads
    answered = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []

    def go() -> None:
        now = time.perf_counter()
        window.extend([now + options.warmup, now + options.warmup + options.seconds])

    start = threading.Barrier(threads, action=go)

    def client(index: int) -> None:
        try:
            start.wait()
            begin, end = window
            while True:
                body, signature = deliveries.take()
                sent = time.perf_counter()
                code = post(handler, mode.path, body, signature)
                done = time.perf_counter()
                if code != 200:
                    errors.append(f"{mode.path} answered {code}")
                    return
                answered[index] += 1
                if done >= end:
                    return
                if done >= begin:
                    counts[index] += 1
                    latencies[index].append(done - sent)
        except Exception as error:  # noqa: BLE001 (reported by the caller)
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=options.warmup + options.seconds + 120)
    if errors:
        raise BenchmarkError(errors[0])
    return Run(
        rate=sum(counts) / options.seconds,
        answered=sum(answered),
        latencies=[value for values in latencies for value in values],
    )


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Result:
    threads: int
    rates: dict[str, list[float]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)

    def ratio(self, mode: Mode) -> float:
        pairs = zip(self.rates[mode.name], self.rates[BARE_MODE.name], strict=True)
        return median([ours / bare for ours, bare in pairs])


def measure(options: Options) -> tuple[list[Result], dict[str, int]]:
    from django.test import override_settings

    results = {count: Result(count) for count in options.threads}
    for result in results.values():
        for mode in MODES:
            result.rates[mode.name], result.latencies[mode.name] = [], []
    answered = {mode.name: 0 for mode in MODES}
    for number in range(options.rounds):
        for count in options.threads:
            order = MODES if (number + count) % 2 == 0 else MODES[::-1]
            for mode in order:
                vacuum()
                tag = f"{mode.name}{count}r{number}"
                with override_settings(**({"TASKS": mode.tasks} if mode.tasks else {})):
                    run = load(mode, count, options, tag)
                results[count].rates[mode.name].append(run.rate)
                results[count].latencies[mode.name].extend(run.latencies)
                answered[mode.name] += run.answered
                print(
                    f"  round {number + 1}/{options.rounds}: {count} thread(s), "
                    f"{mode.label:<32} {run.rate:>7,.0f} deliveries/s",
                    flush=True,
                )
    return list(results.values()), answered


def vacuum() -> None:
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from quickscale.billing.models import WebhookEvent

    with connection.cursor() as cursor:
        for name in (WebhookEvent._meta.db_table, DBTaskResult._meta.db_table, BARE_TABLE):
            cursor.execute(f"VACUUM {name}")


def create_bare_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {BARE_TABLE} (id bigserial PRIMARY KEY, "
            "received_at timestamptz NOT NULL, body jsonb NOT NULL)"
        )


def check_consistency(answered: dict[str, int]) -> None:
    """Every 200 of the webhook stored one event, each once; the database queue holds one task
    per event it was used for; the bare view stored a row per 200; nothing was refused or
    processed (a benchmark of wrong code proves nothing)."""
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from quickscale.billing.models import EventStatus, RejectedDelivery, WebhookEvent

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {BARE_TABLE}")
        (bare,) = cursor.fetchone()
    events = WebhookEvent.objects.count()
    problems = []
    expected = answered[DB_QUEUE.name] + answered[DUMMY_QUEUE.name]
    if events != expected:
        problems.append(f"{expected} deliveries answered 200, {events} events stored")
    if DBTaskResult.objects.count() != answered[DB_QUEUE.name]:
        problems.append(
            f"{answered[DB_QUEUE.name]} deliveries to the database queue, "
            f"{DBTaskResult.objects.count()} tasks queued"
        )
    if WebhookEvent.objects.exclude(status=EventStatus.PENDING).exists():
        problems.append("some events were processed while measuring")
    if RejectedDelivery.objects.exists():
        problems.append(f"{RejectedDelivery.objects.count()} deliveries were refused")
    if bare != answered[BARE_MODE.name]:
        problems.append(f"{answered[BARE_MODE.name]} bare requests answered, {bare} rows stored")
    if problems:
        raise BenchmarkError(f"the runs left an inconsistent state: {problems}")


def time_steps(options: Options) -> list[list[str]]:
    """The webhook's steps called one by one in this process, without HTTP or Django's request
    handling: median wall time of each, the bare view's INSERT alongside."""
    from django.db import connection, transaction
    from django.test import override_settings

    from quickscale.billing import tasks, webhooks

    calls = 50 if options.quick else 500
    deliveries = Deliveries("steps")
    verified = [webhooks.verify(*deliveries.take()) for _ in range(4 * calls)]
    stored = iter(verified)
    body = verified[0].body

    def bare() -> None:
        with connection.cursor() as cursor:
            cursor.execute(BARE_INSERT, [body])

    def atomic_store_and_queue() -> None:
        with transaction.atomic():
            event_id = webhooks.store(next(stored))
            assert event_id is not None
            tasks.enqueue_event(event_id)

    signed = [deliveries.take() for _ in range(calls)]
    steps: list[tuple[str, dict[str, Any] | None, Callable[[], object]]] = [
        (
            "verify: signature (HMAC-SHA256), JSON, event shape",
            None,
            lambda: webhooks.verify(*signed[0]),
        ),
        (
            "store: INSERT ... ON CONFLICT DO NOTHING (autocommit)",
            None,
            lambda: webhooks.store(next(stored)),
        ),
        ("enqueue: dummy backend", DUMMY_QUEUE.tasks, lambda: tasks.enqueue_event(1)),
        ("enqueue: django_tasks_db (autocommit)", DB_QUEUE.tasks, lambda: tasks.enqueue_event(1)),
        (
            "store + enqueue to django_tasks_db, one transaction",
            DB_QUEUE.tasks,
            atomic_store_and_queue,
        ),
        ("baseline: the bare view's INSERT (autocommit)", None, bare),
    ]
    rows = []
    for label, tasks_setting, step in steps:
        with override_settings(**({"TASKS": tasks_setting} if tasks_setting else {})):
            for _ in range(10):
                step()
            timings = []
            for _ in range(calls):
                started = time.perf_counter()
                step()
                timings.append(time.perf_counter() - started)
        rows.append([label, f"{median(timings) * 1e6:,.0f}"])
    return rows


# -- the report --------------------------------------------------------------------------------


def describe() -> str:
    import hashlib
    import os
    import platform
    from pathlib import Path

    import django
    import stripe
    from django.db import connection

    import quickscale.billing

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server,) = cursor.fetchone()
    source = Path(quickscale.billing.__file__).parent / "webhooks.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    return (
        f"PostgreSQL {server.split()[0]}, Django {django.get_version()}, "
        f"stripe {stripe.VERSION}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), webhooks.py sha256 {digest}"
    )


def report(results: list[Result], steps: list[list[str]], options: Options) -> None:
    print()
    print(
        f"Deliveries per second (median of {options.rounds} round(s) of {options.seconds:g} s "
        f"after {options.warmup:g} s warm-up)"
    )
    print(
        table(
            [
                "threads",
                *(mode.label for mode in MODES),
                "db queue / bare",
                "dummy queue / bare",
            ],
            [
                [
                    result.threads,
                    *(f"{median(result.rates[mode.name]):,.0f}" for mode in MODES),
                    f"{result.ratio(DB_QUEUE):.2f}",
                    f"{result.ratio(DUMMY_QUEUE):.2f}",
                ]
                for result in results
            ],
        )
    )
    print()
    print("Time per delivery in µs (median of every measured request)")
    print(
        table(
            ["threads", *(mode.label for mode in MODES)],
            [
                [
                    result.threads,
                    *(f"{median(result.latencies[mode.name]) * 1e6:,.0f}" for mode in MODES),
                ]
                for result in results
            ],
        )
    )
    print()
    print("The webhook's steps called in this process, in µs (median)")
    print(table(["step", "wall"], steps))
    print()
    for result in results:
        print(
            f"webhook ratio ours/baseline at {result.threads} thread(s): "
            f"{result.ratio(DB_QUEUE):.2f} (database queue), "
            f"{result.ratio(DUMMY_QUEUE):.2f} (dummy queue)"
        )
    if options.quick:
        print("(quick run: the figures are not meaningful)")


def main(argv: Sequence[str]) -> int:
    options = parse(argv)
    started = time.perf_counter()
    try:
        with bench_database("qs_billing_bench") as url:
            setup_django(url, **settings())
            migrate()
            create_bare_table()
            print(describe(), flush=True)
            print(f"threads: {', '.join(map(str, options.threads))}", flush=True)
            results, answered = measure(options)
            check_consistency(answered)
            steps = time_steps(options)
            report(results, steps, options)
    except BenchmarkError as error:
        print(f"billing benchmark failed: {error}", file=sys.stderr)
        return 1
    print(f"(ran in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
