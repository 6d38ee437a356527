"""The fault harness's judgement (``faults.checks``) and its load's pacing, on made-up results.

The harness itself starts PostgreSQL, Redis and the site, so it runs on its own
(``uvx nox -s faults``), never in this suite.
"""

from __future__ import annotations

import copy
import time
from decimal import Decimal
from typing import Any

import pytest

from faults.checks import (
    NO_ANSWER,
    Replay,
    Sample,
    Window,
    figures,
    judge_ledger,
    judge_payments,
    judge_replays,
    judge_runs,
    judge_settled,
    judge_statuses,
    judge_verify,
    percentile,
)
from faults.load import Pacer

SEED = Decimal("100")
OUTAGE = Window(1000.0, 1010.0, "PostgreSQL restart")


def sample(
    status: int, start: float = 2000.0, kind: str = "balance", latency: float = 0.1
) -> Sample:
    return Sample(start, latency, kind, status, "detail")


def consistent_facts() -> dict[str, Any]:
    """One customer who bought one 50-credit pack and ran two runs costing 3 in all."""
    return {
        "customers": {
            "a@example.com": {
                "balance": "147.00",
                "held": "0",
                "granted": "150.00",
                "grants": 2,
                "other_entries": [],
                "purchased": "50.00",
                "payments_paid": 1,
                "spent": "3.00",
                "charged": "3.00",
                "charges": 2,
                "charged_runs": 2,
                "runs_linked_to_charges": 2,
                "runs": {"succeeded": 2, "failed": 1},
                "failed_with_cost": 0,
            }
        },
        "open_runs": [],
        "active_holds": 0,
        "runs": {"1": ["succeeded", "1.00"], "2": ["succeeded", "2.00"], "3": ["failed", "0.00"]},
        "keys": {"a@example.com|k1": 1},
        "events": {"processed": 3},
        "unfinished_events": [],
        "payments": [
            {"session": "cs_1", "invoice": None, "status": "paid", "granted": True, "credits": "50"}
        ],
        "doubled_grants": [],
    }


def customer(facts: dict[str, Any]) -> dict[str, Any]:
    return facts["customers"]["a@example.com"]


# --- percentiles and figures ----------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(100, 0, -1)]  # 1..100, in any order

    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100


def test_percentiles_of_few_values_are_values_taken() -> None:
    assert percentile([0.3, 0.1, 0.2], 50) == 0.2
    assert percentile([0.3, 0.1, 0.2], 99) == 0.3
    assert percentile([0.7], 1) == 0.7
    assert percentile([], 95) == 0.0


def test_figures_count_statuses_and_leave_unanswered_requests_out_of_latency() -> None:
    samples = [sample(200, latency=0.01), sample(201, latency=0.03), sample(NO_ANSWER, latency=15)]

    result = figures(samples, seconds=2)

    assert result.requests == 3
    assert result.throughput == 1.5
    assert result.p99 == 0.03
    assert result.statuses == {200: 1, 201: 1, NO_ANSWER: 1}


# --- statuses and outage windows ------------------------------------------------------------


def test_a_503_inside_an_outage_window_is_allowed() -> None:
    assert judge_statuses([sample(503, start=1005)], [OUTAGE]) == []
    assert judge_statuses([sample(NO_ANSWER, start=1009.9)], [OUTAGE]) == []


def test_a_request_sent_before_the_outage_and_answered_in_it_is_inside() -> None:
    assert judge_statuses([sample(503, start=999.5, latency=1)], [OUTAGE]) == []


def test_a_503_outside_every_outage_window_is_a_problem() -> None:
    problems = judge_statuses([sample(503, start=1011), sample(503, start=990)], [OUTAGE])

    assert len(problems) == 1
    assert problems[0].startswith("2 x 503 outside any outage window (balance)")


def test_no_answer_outside_an_outage_is_a_problem() -> None:
    assert judge_statuses([sample(NO_ANSWER, start=2000)], [OUTAGE]) != []


def test_a_500_is_a_problem_even_inside_an_outage() -> None:
    problems = judge_statuses([sample(500, start=1005, kind="run:sentiment")], [OUTAGE])

    assert problems == [
        "1 x response of 500 (run:sentiment); e.g. run:sentiment sent "
        + time.strftime("%H:%M:%S", time.localtime(1005))
        + ".000: detail"
    ]


def test_a_status_the_kind_does_not_expect_is_a_problem() -> None:
    assert judge_statuses([sample(401, kind="balance")], []) != []
    assert judge_statuses([sample(401, kind="bad-key")], []) == []
    assert judge_statuses([sample(202, kind="run:document-report")], []) == []


# --- the database's invariants --------------------------------------------------------------


def test_consistent_facts_raise_no_problem() -> None:
    facts = consistent_facts()

    assert judge_ledger(facts, seed_credits=SEED) == []
    assert judge_payments(facts, paid_sessions=["cs_1"]) == []
    assert judge_settled(facts) == []
    assert judge_runs(facts, succeeded={1: "1.00", 2: "2.00"}, keys={"a@example.com|k1": {1}}) == []


def test_a_balance_that_does_not_match_the_runs_is_credits_lost() -> None:
    facts = consistent_facts()
    customer(facts)["balance"] = "146.00"

    problems = judge_ledger(facts, seed_credits=SEED)

    assert len(problems) == 1
    assert "credits lost: balance 146.00" in problems[0]


def test_a_grant_without_a_payment_is_credits_created() -> None:
    facts = consistent_facts()
    customer(facts).update(granted="200.00", grants=3, balance="197.00")

    problems = judge_ledger(facts, seed_credits=SEED)

    assert any("credits created: 200.00 granted" in p for p in problems)
    assert any("3 grant entries for the seed and 1 paid payment(s)" in p for p in problems)


def test_two_charges_for_one_run_is_credits_spent_twice() -> None:
    facts = consistent_facts()
    # A third charge entry of 1.00 for the two runs: the balance fell with it.
    customer(facts).update(charged="4.00", charges=3, balance="146.00")

    problems = judge_ledger(facts, seed_credits=SEED)

    assert any("spent twice or not at all: 3 charge entries" in p for p in problems)


def test_credits_still_held_and_a_failed_run_with_a_cost_are_problems() -> None:
    facts = consistent_facts()
    customer(facts).update(held="2.00", failed_with_cost=1)

    problems = judge_ledger(facts, seed_credits=SEED)

    assert any("2.00 credits still held" in p for p in problems)
    assert any("1 failed run(s) with a cost" in p for p in problems)


def test_a_doubled_webhook_is_found() -> None:
    facts = consistent_facts()
    twice = copy.deepcopy(facts["payments"][0])
    facts["payments"].append(twice)
    facts["doubled_grants"] = ["stripe:checkout:cs_1"]

    problems = judge_payments(facts, paid_sessions=["cs_1"])

    assert "2 payments for cs_1" in problems
    assert "credits granted twice for stripe:checkout:cs_1" in problems


def test_a_checkout_paid_by_the_buyer_must_be_a_paid_payment() -> None:
    facts = consistent_facts()
    facts["payments"][0]["granted"] = False

    problems = judge_payments(facts, paid_sessions=["cs_1", "cs_2"])

    assert "payment cs_1 is paid but granted no credits" in problems
    assert "checkout cs_2 was paid by the buyer but is no payment" in problems


def test_open_runs_active_holds_and_unprocessed_events_are_problems() -> None:
    facts = consistent_facts()
    facts["open_runs"] = [
        {
            "id": 7,
            "service__slug": "sentiment",
            "status": "running",
            "started_at": "2026-12-02T10:20:24+00:00",
        },
        {"id": 8, "service__slug": "document-report", "status": "queued", "started_at": None},
    ]
    facts["active_holds"] = 1
    facts["unfinished_events"] = [
        {
            "stripe_id": "evt_1",
            "type": "invoice.paid",
            "status": "failed",
            "attempts": 2,
            "error": "boom",
        }
    ]

    problems = judge_settled(facts)

    assert problems == [
        "2 run(s) left open after the sweep: 7 (sentiment, running since "
        "2026-12-02T10:20:24+00:00), 8 (document-report, queued)",
        "1 hold(s) left active after the sweep",
        "webhook event evt_1 (invoice.paid) left failed after 2 attempt(s): boom",
    ]


def test_what_clients_were_told_must_match_the_database() -> None:
    facts = consistent_facts()

    problems = judge_runs(
        facts,
        succeeded={3: "1.00"},
        keys={"a@example.com|k1": {1, 2}, "a@example.com|k2": set()},
    )

    assert problems == [
        "run 3 was answered succeeded at 1.00, stored as ['failed', '0.00']",
        "idempotency key a@example.com|k1 answered with runs [1, 2]",
    ]


def test_a_replay_must_return_the_first_run_marked_replayed() -> None:
    replays = [
        Replay("k1", first_run=1, run=1, status=201, replayed_header=True),
        Replay("k2", first_run=2, run=5, status=201, replayed_header=True),
        Replay("k3", first_run=3, run=3, status=202, replayed_header=False),
        Replay("k4", first_run=4, run=None, status=503, replayed_header=False),
    ]

    problems = judge_replays(replays)

    assert len(problems) == 2
    assert problems[0].startswith("1 x replay answered with another run; e.g. key k2")
    assert problems[1].startswith("1 x replay without Idempotent-Replayed: true; e.g. key k3")


def test_a_failed_verify_command_is_reported_with_its_output() -> None:
    verified = {
        "credits_verify": {"ok": False, "output": "1 problem(s) found in 1 of 9 account(s)."},
        "audit_seal": {"ok": True, "output": ""},
        "audit_verify": {"ok": True, "output": ""},
        "audit_events": 10,
    }

    assert judge_verify(verified) == [
        "manage.py credits verify failed: 1 problem(s) found in 1 of 9 account(s)."
    ]


# --- the load's pacing ----------------------------------------------------------------------


@pytest.mark.parametrize("rate", [20.0, 100.0])
def test_the_pacer_never_exceeds_its_rate_and_stops_at_its_end(rate: float) -> None:
    started = time.time()
    pacer = Pacer(rate, started + 0.3)
    sent = 0
    while pacer.wait():
        sent += 1

    assert 0 < sent <= rate * 0.3 + 1
    assert time.time() - started < 1
    assert not pacer.wait()
