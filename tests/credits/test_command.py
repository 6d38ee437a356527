"""``manage.py credits``: the ledger for operators, through the real command parser."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from quickscale.credits import ledger
from quickscale.credits.models import CreditAccount, CreditHold, CreditTransaction, HoldState
from tests.credits.conftest import HOUR, lapsed


def credits(*args: str) -> tuple[str, str]:
    """Run ``manage.py credits <args>`` and return what it wrote to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("credits", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def balance(user: Any) -> D:
    return ledger.balance(user).balance


# -- grant ------------------------------------------------------------------------------


def test_grant_gives_credits_to_a_user_named_by_id(user: Any) -> None:
    out, _ = credits("grant", str(user.pk), "25", "--source", "purchase", "--reason", "gift")

    assert balance(user) == D("25.00")
    entry = CreditTransaction.objects.get()
    assert (entry.kind, entry.reason, entry.grant.source) == ("grant", "gift", "purchase")
    assert f"Granted 25.00 purchase credits to {user}" in out
    assert "never expiring" in out
    assert "available:" in out


def test_grant_finds_the_user_by_email_or_username(make_user: Callable[..., Any]) -> None:
    alice = make_user(username="alice", email="Alice@Example.com")

    credits("grant", "alice@example.com", "1", "--source", "promotion")
    credits("grant", "alice", "2", "--source", "promotion")

    assert balance(alice) == D("3.00")


def test_grant_prefers_the_user_id_over_a_username_of_digits(
    make_user: Callable[..., Any],
) -> None:
    first = make_user()
    make_user(username=str(first.pk))

    credits("grant", str(first.pk), "1", "--source", "admin")

    assert balance(first) == D("1.00")


def test_grant_expires_after_the_given_number_of_days(user: Any) -> None:
    before = timezone.now()

    out, _ = credits("grant", user.email, "5", "--source", "promotion", "--expires-in-days", "7")

    expires_at = CreditTransaction.objects.get().grant.expires_at
    assert before + timedelta(days=7) <= expires_at <= timezone.now() + timedelta(days=7)
    assert "expiring" in out


def test_grant_without_expiry_uses_the_sources_default(user: Any) -> None:
    credits("grant", user.email, "5", "--source", "subscription")

    assert CreditTransaction.objects.get().grant.expires_at is not None


def test_grant_with_a_used_idempotency_key_grants_nothing_more(user: Any) -> None:
    credits("grant", user.email, "5", "--source", "purchase", "--idempotency-key", "order-1")

    out, _ = credits(
        "grant", user.email, "5", "--source", "purchase", "--idempotency-key", "order-1"
    )

    assert balance(user) == D("5.00")
    assert CreditTransaction.objects.count() == 1
    assert "Already done with this idempotency key" in out


def test_grant_expiring_in_days_run_again_with_its_idempotency_key_grants_once(
    user: Any,
) -> None:
    args = ("grant", user.email, "5", "--source", "promotion", "--expires-in-days", "7")
    credits(*args, "--idempotency-key", "campaign-1")

    out, _ = credits(*args, "--idempotency-key", "campaign-1")

    assert balance(user) == D("5.00")
    assert CreditTransaction.objects.count() == 1
    assert "Already done with this idempotency key" in out


def test_grant_with_a_used_idempotency_key_and_another_amount_fails(user: Any) -> None:
    credits("grant", user.email, "5", "--source", "purchase", "--idempotency-key", "order-1")

    with pytest.raises(CommandError, match="already used for a different request"):
        credits("grant", user.email, "6", "--source", "purchase", "--idempotency-key", "order-1")

    assert balance(user) == D("5.00")


def test_grant_to_an_unknown_user_fails_naming_the_user(db: None) -> None:
    with pytest.raises(CommandError, match="No user has the id, email or username 'nobody'"):
        credits("grant", "nobody", "5", "--source", "purchase")


def test_grant_to_an_email_shared_by_two_users_asks_for_the_id(
    make_user: Callable[..., Any],
) -> None:
    make_user(email="team@example.com")
    make_user(email="TEAM@example.com")

    with pytest.raises(CommandError, match="Several users have the email"):
        credits("grant", "team@example.com", "5", "--source", "purchase")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("ten", "amount is not a number: 'ten'"),
        ("0", "amount must be more than zero"),
        ("1.234", "amount has more than 2 decimal places"),
        ("NaN", "amount must be a finite number"),
    ],
)
def test_grant_of_a_bad_amount_fails_and_changes_nothing(
    user: Any, amount: str, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        credits("grant", user.email, amount, "--source", "purchase")

    assert not CreditTransaction.objects.exists()


def test_grant_needs_a_known_source(user: Any) -> None:
    with pytest.raises(CommandError, match="invalid choice: 'gift'"):
        credits("grant", user.email, "5", "--source", "gift")


@pytest.mark.parametrize("days", ["0", "-3", "soon", "99999999999"])
def test_grant_needs_a_sensible_number_of_days(user: Any, days: str) -> None:
    with pytest.raises(
        CommandError, match=f"must be a number of days from 1 to 36500, not '{days}'"
    ):
        credits("grant", user.email, "5", "--source", "promotion", "--expires-in-days", days)


def test_a_user_id_out_of_range_is_an_unknown_user(db: None) -> None:
    with pytest.raises(CommandError, match="No user has the id"):
        credits("balance", "9" * 30)


# -- deduct -----------------------------------------------------------------------------


def test_deduct_removes_credits_with_a_reason(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    out, _ = credits("deduct", user.email, "3.50", "--reason", "chargeback")

    assert balance(user) == D("6.50")
    entry = CreditTransaction.objects.latest("id")
    assert (entry.kind, entry.amount, entry.reason) == ("adjustment", D("-3.50"), "chargeback")
    assert f"Deducted 3.50 credits from {user}" in out


def test_deduct_with_a_used_idempotency_key_deducts_once(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    for _ in range(2):
        credits("deduct", user.email, "4", "--reason", "fix", "--idempotency-key", "ticket-9")

    assert balance(user) == D("6.00")


def test_deduct_of_more_than_is_available_fails_and_changes_nothing(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    with pytest.raises(CommandError, match=re.escape("11.00 credits are needed but only 10.00")):
        credits("deduct", user.email, "11", "--reason", "fix")

    assert balance(user) == D("10.00")


def test_deduct_from_a_user_without_credits_fails(user: Any) -> None:
    with pytest.raises(CommandError, match="credits"):
        credits("deduct", user.email, "1", "--reason", "fix")

    assert not CreditTransaction.objects.exists()


def test_deduct_needs_a_reason(user: Any) -> None:
    with pytest.raises(CommandError, match="--reason"):
        credits("deduct", user.email, "1")


def test_deduct_refuses_a_blank_reason(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    with pytest.raises(CommandError, match="needs a reason"):
        credits("deduct", user.email, "1", "--reason", "  ")

    assert balance(user) == D("10.00")


def test_deduct_of_a_bad_amount_fails(user: Any) -> None:
    with pytest.raises(CommandError, match="amount must be more than zero"):
        credits("deduct", user.email, "0", "--reason", "fix")


# -- balance ----------------------------------------------------------------------------


def test_balance_shows_balance_held_available_and_sources(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    ledger.grant(user, 5, source="promotion", expires_at=None)
    ledger.hold(user, 3)

    out, _ = credits("balance", user.email)

    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert lines[0] == f"Credits of {user}:"
    assert "balance: 15.00" in lines
    assert "held: 3.00" in lines
    assert "available: 12.00" in lines
    assert "purchase: 7.00" in lines
    assert "promotion: 5.00" in lines


def test_balance_of_a_user_without_credits_is_zero(user: Any) -> None:
    out, _ = credits("balance", str(user.pk))

    assert "available: 0" in " ".join(out.split())


def test_balance_of_an_unknown_user_fails(db: None) -> None:
    with pytest.raises(CommandError, match="'404'"):
        credits("balance", "404")


# -- verify -----------------------------------------------------------------------------


def test_verify_passes_a_consistent_ledger_and_shows_progress(
    make_user: Callable[..., Any],
) -> None:
    for _ in range(3):
        owner = make_user()
        ledger.grant(owner, 10, source="purchase")
        ledger.debit(owner, 4)

    out, err = credits("verify")

    assert "3 account(s) verified: no problems." in out
    assert "Verifying accounts: 3/3 (100%)" in err


def test_verify_fails_after_a_balance_is_changed_behind_the_ledger(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    CreditAccount.objects.filter(owner=user).update(balance=D("99"))
    out = io.StringIO()

    with pytest.raises(CommandError, match=r"problem\(s\) found in 1 of 1 account\(s\)"):
        call_command("credits", "verify", stdout=out, stderr=io.StringIO())

    assert f"({user}) [balance]: Stored balance 99" in out.getvalue()


def test_verify_of_one_user_checks_only_that_users_account(
    make_user: Callable[..., Any],
) -> None:
    good, bad = make_user(), make_user()
    ledger.grant(good, 10, source="purchase")
    ledger.grant(bad, 10, source="purchase")
    CreditAccount.objects.filter(owner=bad).update(balance=D("99"))

    out, _ = credits("verify", good.email)

    assert "1 account(s) verified: no problems." in out
    with pytest.raises(CommandError):
        credits("verify", bad.email)


@pytest.mark.parametrize("args", [("-v", "0", "verify"), ("verify", "-v", "0")])
def test_verify_prints_no_progress_at_verbosity_zero(user: Any, args: tuple[str, ...]) -> None:
    ledger.grant(user, 10, source="purchase")

    _, err = credits(*args)

    assert err == ""


# -- expire -----------------------------------------------------------------------------


def test_expire_expires_due_grants_and_releases_expired_holds_with_progress(
    make_user: Callable[..., Any],
) -> None:
    past = timezone.now() - timedelta(days=1)
    first, second = make_user(), make_user()
    promotions = []
    for owner in (first, second):
        ledger.grant(owner, 10, source="purchase")
        promotions.append(
            ledger.grant(owner, 5, source="promotion", expires_at=timezone.now() + HOUR)
        )
    stuck = ledger.hold(first, 4)
    for promotion in promotions:
        lapsed(promotion)
    CreditHold.objects.filter(pk=stuck.pk).update(expires_at=past)

    out, err = credits("expire")

    assert "Expired 2 grant(s) and released 1 expired hold(s)." in out
    assert "Expiring grants (accounts): 1/2 (50%)" in err
    assert "Expiring grants (accounts): 2/2 (100%)" in err
    assert "Releasing expired holds: 1/1 (100%)" in err
    assert ledger.balance(first) == ledger.Balance(D("10.00"), D("0.00"), D("10.00"))
    assert balance(second) == D("10.00")
    assert CreditHold.objects.get().state == HoldState.EXPIRED
    assert ledger.verify() == []


def test_expire_with_nothing_due_changes_nothing(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    out, err = credits("expire")

    assert "Expired 0 grant(s) and released 0 expired hold(s)." in out
    assert err == ""
    assert balance(user) == D("10.00")
