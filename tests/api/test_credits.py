"""``/api/v1/credits/``: the balance with its grants, and the ledger, page by page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from quickscale.api.pagination import encode_cursor
from quickscale.credits import ledger
from tests.api.conftest import API, assert_error
from tests.credits.conftest import lapsed

BALANCE = "/api/v1/credits/balance"
TRANSACTIONS = "/api/v1/credits/transactions"


def test_the_balance_shows_balance_held_available_as_decimal_strings(api: API, funded: Any) -> None:
    ledger.hold(funded, Decimal("2.50"))

    assert api.get(BALANCE).json() == {
        "balance": "20.00",
        "available": "17.50",
        "held": "2.50",
        "grants": [{"source": "purchase", "remaining": "17.50", "expires_at": None}],
    }


def test_a_user_without_an_account_has_a_zero_balance(
    make_api: Callable[..., API], user: Any
) -> None:
    body = make_api(user).get(BALANCE).json()

    assert body == {"balance": "0.00", "available": "0.00", "held": "0.00", "grants": []}


def test_grants_are_listed_in_the_order_they_are_spent_with_their_expiry(
    api: API, funded: Any
) -> None:
    expiry = timezone.now() + timedelta(days=30)
    ledger.grant(funded, 5, source="subscription", expires_at=expiry)
    ledger.debit(funded, 3)

    grants = api.get(BALANCE).json()["grants"]

    assert [(g["source"], g["remaining"]) for g in grants] == [
        ("subscription", "2.00"),
        ("purchase", "20.00"),
    ]
    assert grants[0]["expires_at"].startswith(expiry.strftime("%Y-%m-%dT%H:%M:%S"))


def test_expired_grants_are_not_listed(api: API, funded: Any) -> None:
    lapsed(ledger.grant(funded, 5, source="promotion", expires_at=timezone.now() + timedelta(1)))

    assert [g["source"] for g in api.get(BALANCE).json()["grants"]] == ["purchase"]


def test_transactions_are_listed_newest_first(api: API, funded: Any) -> None:
    ledger.debit(funded, Decimal("1.25"), reason="a report")

    body = api.get(TRANSACTIONS).json()

    assert body["next_cursor"] is None
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in body["data"]] == [
        ("debit", "-1.25", "18.75"),
        ("grant", "20.00", "20.00"),
    ]
    assert body["data"][0]["reason"] == "a report"
    assert set(body["data"][0]) == {
        "id",
        "kind",
        "amount",
        "balance_after",
        "held_change",
        "held_after",
        "reason",
        "reference",
        "created_at",
    }


def test_the_cursor_walks_every_transaction_exactly_once(api: API, funded: Any) -> None:
    for _ in range(6):
        ledger.debit(funded, 1)
    expected = [entry.pk for entry in ledger.statement(funded, limit=100).items]

    seen, pages, cursor = [], 0, None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = api.get(TRANSACTIONS, **params).json()
        seen += [entry["id"] for entry in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == expected and len(seen) == 7
    assert pages == 3


@override_settings(QUICKSCALE_API_PAGE_SIZE=2)
def test_the_page_size_defaults_to_the_setting(api: API, funded: Any) -> None:
    for _ in range(3):
        ledger.debit(funded, 1)

    body = api.get(TRANSACTIONS).json()

    assert len(body["data"]) == 2 and body["next_cursor"] is not None


@override_settings(QUICKSCALE_API_MAX_PAGE_SIZE=10)
@pytest.mark.parametrize("limit", ["0", "11", "-1", "two", "1.5", "", " 3", "\u0663"])
def test_a_limit_outside_one_to_the_maximum_is_a_400(api: API, limit: str) -> None:
    error = assert_error(api.get(TRANSACTIONS, limit=limit), 400, "invalid_parameter")

    assert error["details"] == {"parameter": "limit", "maximum": 10}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage!",
        "bm9wZQ",  # "nope"
        encode_cursor("run", 5),  # a cursor of another list
        encode_cursor("tx", 0),
        encode_cursor("tx", 2**63),
        "dHg6MDE",  # "tx:01"
    ],
)
def test_a_bad_cursor_is_a_400(api: API, cursor: str) -> None:
    error = assert_error(api.get(TRANSACTIONS, cursor=cursor), 400, "invalid_parameter")

    assert error["details"] == {"parameter": "cursor"}


def test_another_users_transactions_are_never_listed(
    api: API, make_user: Callable[..., Any]
) -> None:
    other = make_user()
    ledger.grant(other, 99, source="purchase")

    amounts = [entry["amount"] for entry in api.get(TRANSACTIONS).json()["data"]]

    assert amounts == ["20.00"]
