"""The invariants and the figures, judged from what the load recorded and the probe read.

Plain Python (no Django, no network): ``tests/test_faults.py`` feeds these functions made-up
results. Every ``judge_*`` function returns a list of problems, each one sentence a person can
act on; an empty list means the invariant holds.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

#: The status recorded for a request that got no answer: refused, reset or timed out.
NO_ANSWER = 0
#: Statuses a fault may cause, inside its outage window only.
OUTAGE_STATUSES = frozenset({503, NO_ANSWER})
#: What each kind of request must get when nothing is broken (the kind's prefix up to ":").
EXPECTED = {
    "run": frozenset({201, 202}),
    "replay": frozenset({201, 202}),
    "retry": frozenset({201, 202}),
    "balance": frozenset({200}),
    "runs": frozenset({200}),
    "run-status": frozenset({200}),
    "bad-key": frozenset({401}),
    "login-page": frozenset({200}),
    "login": frozenset({302}),
    "checkout": frozenset({303}),
    "sandbox-page": frozenset({200}),
    "pay": frozenset({302, 303}),
    "success": frozenset({200}),
    "webhook": frozenset({200}),
}
#: Examples shown for each kind of problem; the rest are counted.
EXAMPLES = 3


@dataclass(frozen=True)
class Sample:
    """One request: when it was sent (``time.time()``), how long it took, what it was and what
    it got. ``detail`` keeps what helps a person find the cause (an error code, a body)."""

    start: float
    latency: float
    kind: str
    status: int
    detail: str = ""

    @property
    def end(self) -> float:
        return self.start + self.latency


@dataclass(frozen=True)
class Window:
    """An outage: from the fault's start to its recovery plus a few seconds."""

    start: float
    end: float
    label: str

    def overlaps(self, sample: Sample) -> bool:
        return sample.start <= self.end and sample.end >= self.start


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile: the smallest value with at least ``p`` % of the
    values at or below it (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@dataclass
class Figures:
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.requests} requests in {self.seconds:.0f} s ({self.throughput:.1f}/s); "
            f"latency p50 {self.p50 * 1000:.0f} ms, p95 {self.p95 * 1000:.0f} ms, "
            f"p99 {self.p99 * 1000:.0f} ms"
        )

    def status_line(self) -> str:
        return ", ".join(
            f"{'no answer' if status == NO_ANSWER else status} x{count}"
            for status, count in sorted(self.statuses.items())
        )


def figures(samples: Sequence[Sample], seconds: float) -> Figures:
    """Requests, throughput, latency percentiles (answered requests only) and statuses."""
    latencies = [s.latency for s in samples if s.status != NO_ANSWER]
    return Figures(
        requests=len(samples),
        seconds=seconds,
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
        statuses=Counter(s.status for s in samples),
    )


def expected(kind: str) -> frozenset[int]:
    return EXPECTED.get(kind.split(":", 1)[0], frozenset())


def clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment)) + f".{int(moment % 1 * 1000):03d}"


def _grouped(problems: Iterable[tuple[str, str]]) -> list[str]:
    """One line per kind of problem: how many, and the first few examples."""
    examples: dict[str, list[str]] = {}
    counts: Counter[str] = Counter()
    for what, example in problems:
        counts[what] += 1
        if len(examples.setdefault(what, [])) < EXAMPLES:
            examples[what].append(example)
    return [f"{counts[what]} x {what}; e.g. " + " | ".join(examples[what]) for what in counts]


def judge_statuses(samples: Iterable[Sample], windows: Sequence[Window]) -> list[str]:
    """No 500 at any time (no status of 500 or above but 503); a 503 or no answer only inside
    an outage window; otherwise only what the request's kind expects."""
    found = []
    for sample in samples:
        example = f"{sample.kind} sent {clock(sample.start)}: {sample.detail}".rstrip(": ")
        if sample.status >= 500 and sample.status != 503:
            found.append((f"response of {sample.status} ({sample.kind})", example))
        elif sample.status in OUTAGE_STATUSES:
            if not any(window.overlaps(sample) for window in windows):
                what = "no answer" if sample.status == NO_ANSWER else "503"
                found.append((f"{what} outside any outage window ({sample.kind})", example))
        elif sample.status not in expected(sample.kind):
            found.append((f"unexpected {sample.status} to {sample.kind}", example))
    return _grouped(found)


@dataclass(frozen=True)
class Replay:
    """A request repeated with an ``Idempotency-Key`` whose first request was answered with a
    run: it must return that run, marked ``Idempotent-Replayed: true``."""

    key: str
    first_run: int
    run: int | None
    status: int
    replayed_header: bool


def judge_replays(replays: Iterable[Replay]) -> list[str]:
    found = []
    for replay in replays:
        if replay.status not in expected("replay"):
            continue  # judged with the statuses
        if replay.run != replay.first_run:
            found.append(
                (
                    "replay answered with another run",
                    f"key {replay.key}: first run {replay.first_run}, replay {replay.run}",
                )
            )
        elif not replay.replayed_header:
            found.append(
                (
                    "replay without Idempotent-Replayed: true",
                    f"key {replay.key}, run {replay.run}, status {replay.status}",
                )
            )
    return _grouped(found)


def judge_verify(verified: Mapping[str, Any]) -> list[str]:
    """``credits verify``, ``audit seal`` and ``audit verify`` succeeded."""
    return [
        f"manage.py {name.replace('_', ' ')} failed: {result['output']}"
        for name, result in verified.items()
        if isinstance(result, Mapping) and not result.get("ok")
    ]


def judge_settled(facts: Mapping[str, Any]) -> list[str]:
    """After the sweep: no run queued or running, no hold active, no event unprocessed."""
    problems = []
    if facts["open_runs"]:
        runs = ", ".join(
            f"{run['id']} ({run.get('service__slug', '?')}, {run['status']}"
            + (f" since {run['started_at']})" if run.get("started_at") else ")")
            for run in facts["open_runs"][:10]
        )
        problems.append(f"{len(facts['open_runs'])} run(s) left open after the sweep: {runs}")
    if facts["active_holds"]:
        problems.append(f"{facts['active_holds']} hold(s) left active after the sweep")
    for event in facts["unfinished_events"]:
        problems.append(
            f"webhook event {event['stripe_id']} ({event['type']}) left {event['status']} "
            f"after {event['attempts']} attempt(s): {event['error'][:300]}"
        )
    return problems


def judge_ledger(facts: Mapping[str, Any], *, seed_credits: Decimal) -> list[str]:
    """Per customer: credits granted are the seed plus what their paid payments bought, each
    payment granted once (none created); the balance is that less what the succeeded runs
    cost, none held (none lost); the charges are exactly the succeeded runs' costs, one entry
    each (none spent twice); a failed run costs nothing."""
    problems = []
    for email, c in sorted(facts["customers"].items()):
        granted, purchased = Decimal(c["granted"]), Decimal(c["purchased"])
        balance, spent = Decimal(c["balance"]), Decimal(c["spent"])
        if granted != seed_credits + purchased:
            problems.append(
                f"{email}: credits created: {granted} granted, but the seed {seed_credits} "
                f"plus paid payments {purchased} is {seed_credits + purchased}"
            )
        if c["grants"] != 1 + c["payments_paid"]:
            problems.append(
                f"{email}: {c['grants']} grant entries for the seed and "
                f"{c['payments_paid']} paid payment(s)"
            )
        if balance != granted - spent:
            problems.append(
                f"{email}: credits lost: balance {balance}, but {granted} granted less {spent} "
                f"spent by succeeded runs is {granted - spent}"
            )
        if Decimal(c["held"]) != 0:
            problems.append(f"{email}: {c['held']} credits still held")
        if Decimal(c["charged"]) != spent or not (
            c["charges"] == c["charged_runs"] == c["runs_linked_to_charges"]
        ):
            problems.append(
                f"{email}: credits spent twice or not at all: {c['charges']} charge entries "
                f"taking {c['charged']} for {c['charged_runs']} charged runs costing {spent} "
                f"({c['runs_linked_to_charges']} linked to a charge)"
            )
        if c["failed_with_cost"]:
            problems.append(f"{email}: {c['failed_with_cost']} failed run(s) with a cost")
        if c["other_entries"]:
            problems.append(f"{email}: unexpected ledger entries {sorted(c['other_entries'])}")
    return problems


def judge_payments(facts: Mapping[str, Any], *, paid_sessions: Iterable[str]) -> list[str]:
    """Every webhook event processed exactly once: one payment per checkout session or
    invoice, each paid payment granted once, and each checkout the buyer paid is paid."""
    problems = []
    sources = Counter(p["session"] or p["invoice"] for p in facts["payments"])
    problems += [f"{n} payments for {source}" for source, n in sources.items() if n > 1]
    problems += [
        f"payment {p['session'] or p['invoice']} is paid but granted no credits"
        for p in facts["payments"]
        if p["status"] == "paid" and not p["granted"]
    ]
    problems += [f"credits granted twice for {ref}" for ref in facts["doubled_grants"]]
    by_session = {p["session"]: p for p in facts["payments"] if p["session"]}
    for session in sorted(set(paid_sessions)):
        payment = by_session.get(session)
        if payment is None or payment["status"] != "paid":
            state = payment["status"] if payment else "no payment"
            problems.append(f"checkout {session} was paid by the buyer but is {state}")
    return problems


def judge_runs(
    facts: Mapping[str, Any],
    *,
    succeeded: Mapping[int, str],
    keys: Mapping[str, set[int]],
) -> list[str]:
    """What the clients were told agrees with the database: a run answered as succeeded is
    succeeded at that cost, and an idempotency key has one run, the one its answers named."""
    problems = []
    for run_id, cost in sorted(succeeded.items()):
        stored = facts["runs"].get(str(run_id))
        if stored is None or stored[0] != "succeeded" or Decimal(stored[1]) != Decimal(cost):
            problems.append(f"run {run_id} was answered succeeded at {cost}, stored as {stored}")
    for key, runs in sorted(keys.items()):
        stored = facts["keys"].get(key)
        if len(runs) > 1:
            problems.append(f"idempotency key {key} answered with runs {sorted(runs)}")
        elif runs and stored is not None and stored not in runs:
            problems.append(f"idempotency key {key} answered with run {runs}, stored {stored}")
    return problems
