"""The fault harness's facts (``faults.facts``), read from a real database and judged by
``faults.checks``: what the harness would conclude after a phase, for a ledger that holds and
for ledgers that break one invariant each."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from faults import facts as probe
from faults.checks import judge_ledger, judge_runs, judge_settled
from quickscale.credits import ledger
from quickscale.services.execution import execute

pytestmark = pytest.mark.django_db

SEED = Decimal("100")


@pytest.fixture
def customer(user: Any) -> Any:
    """The harness's seed, then two runs that succeeded (2 credits each) and one that failed."""
    ledger.grant(user, SEED, source="promotion", reason="fault harness")
    execute(user, "echo", {"text": "one"})
    execute(user, "echo", {"text": "two"})
    execute(user, "explodes", {})
    return user


def read(user: Any) -> dict[str, Any]:
    return probe.facts(emails=[user.email])


def test_a_sound_ledger_is_judged_sound(customer: Any) -> None:
    found = read(customer)

    assert found["customers"][customer.email]["balance"].startswith("96")
    assert found["customers"][customer.email]["runs"] == {"succeeded": 2, "failed": 1}
    assert judge_ledger(found, seed_credits=SEED) == []
    assert judge_settled(found) == []
    succeeded = {
        int(run): cost for run, (status, cost) in found["runs"].items() if status == "succeeded"
    }
    assert judge_runs(found, succeeded=succeeded, keys={}) == []


def test_credits_granted_without_a_payment_are_found(customer: Any) -> None:
    ledger.grant(customer, 5, source="promotion")

    problems = judge_ledger(read(customer), seed_credits=SEED)

    assert any("credits created: 105" in problem for problem in problems)


def test_credits_taken_without_a_run_are_found(customer: Any) -> None:
    ledger.debit(customer, 3, reason="not a run")

    problems = judge_ledger(read(customer), seed_credits=SEED)

    assert any("credits lost: balance 93" in problem for problem in problems)
    assert any("spent twice or not at all" in problem for problem in problems)


def test_a_hold_left_active_is_found(customer: Any) -> None:
    ledger.hold(customer, 1, reason="left behind")

    found = read(customer)

    assert "1 hold(s) left active after the sweep" in judge_settled(found)
    assert any("credits still held" in p for p in judge_ledger(found, seed_credits=SEED))
