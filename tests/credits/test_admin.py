"""The credit ledger in the Django admin: read-only tables and the "Adjust credits" form."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quickscale.credits import ledger
from quickscale.credits.admin import MAX_BULK_ADJUST
from quickscale.credits.models import CreditAccount, CreditTransaction

MODELS = ["creditaccount", "creditgrant", "credithold", "credittransaction"]


def url(model: str, view: str, *args: Any) -> str:
    return reverse(f"admin:quickscale_credits_{model}_{view}", args=args)


def adjust_url(account: CreditAccount) -> str:
    return url("creditaccount", "adjust", account.pk)


def funded(make_user: Callable[..., Any], credits: int = 100) -> CreditAccount:
    """A user with an account holding ``credits``, one spent and one held."""
    owner = make_user()
    ledger.grant(owner, credits, source="purchase")
    ledger.debit(owner, 1)
    ledger.hold(owner, 1)
    return CreditAccount.objects.get(owner=owner)


def form_token(response: Any) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match is not None, "the form has no token"
    return match.group(1)


def adjust(client: Client, account: CreditAccount, amount: str, reason: str = "support") -> Any:
    token = form_token(client.get(adjust_url(account)))
    return client.post(adjust_url(account), {"amount": amount, "reason": reason, "token": token})


def balance(account: CreditAccount) -> D:
    account.refresh_from_db()
    return D(account.balance)


# -- changelists ------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_a_changelist_runs_the_same_queries_whatever_the_number_of_rows(
    admin_client: Client,
    make_user: Callable[..., Any],
    django_assert_max_num_queries: Any,
    model: str,
) -> None:
    for _ in range(2):
        funded(make_user)
    with CaptureQueriesContext(connection) as few_rows:
        assert admin_client.get(url(model, "changelist")).status_code == 200
    assert len(few_rows) <= 6  # session, user, count, rows (+ a filter's lookups)
    for _ in range(15):
        funded(make_user)

    with django_assert_max_num_queries(len(few_rows)):
        response = admin_client.get(url(model, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 17


@pytest.mark.parametrize("model", MODELS[1:])
def test_a_ledger_table_filtered_to_one_account_shows_only_its_rows(
    admin_client: Client, make_user: Callable[..., Any], model: str
) -> None:
    account = funded(make_user)
    funded(make_user)

    response = admin_client.get(url(model, "changelist"), {"account": account.pk})

    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert rows and {row.account_id for row in rows} == {account.pk}


def test_accounts_can_be_searched_by_owner_email(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)
    funded(make_user)

    response = admin_client.get(url("creditaccount", "changelist"), {"q": account.owner.email})

    assert list(response.context["cl"].result_list) == [account]


def test_transactions_can_be_searched_by_exact_owner_username(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)
    funded(make_user)

    response = admin_client.get(
        url("credittransaction", "changelist"), {"q": account.owner.username}
    )

    rows = response.context["cl"].result_list
    assert rows and {row.account_id for row in rows} == {account.pk}


def test_grants_can_be_filtered_by_source_and_expiry(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    funded(make_user)

    purchases = admin_client.get(url("creditgrant", "changelist"), {"source__exact": "purchase"})
    expired = admin_client.get(url("creditgrant", "changelist"), {"expired": "yes"})

    assert len(purchases.context["cl"].result_list) == 1
    assert len(expired.context["cl"].result_list) == 0


def test_the_account_page_shows_its_grants_transactions_and_an_adjust_button(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)

    response = admin_client.get(url("creditaccount", "change", account.pk))

    content = response.content.decode()
    assert response.status_code == 200
    assert adjust_url(account) in content
    assert f"{url('credittransaction', 'changelist')}?account={account.pk}" in content
    assert "<td>98.00</td>" in content  # the live grant's remaining credits
    assert "<td>Debit</td>" in content and "<td>Hold</td>" in content


# -- read-only tables -------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_ledger_rows_cannot_be_added_through_the_admin(admin_client: Client, model: str) -> None:
    assert admin_client.get(url(model, "add")).status_code == 403


def test_a_transaction_cannot_be_changed_or_deleted_through_the_admin(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    funded(make_user)
    entry = CreditTransaction.objects.earliest("id")

    page = admin_client.get(url("credittransaction", "change", entry.pk))
    change = admin_client.post(url("credittransaction", "change", entry.pk), {"reason": "x"})
    delete = admin_client.post(url("credittransaction", "delete", entry.pk), {"post": "yes"})
    changelist = admin_client.get(url("credittransaction", "changelist"))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert (change.status_code, delete.status_code) == (403, 403)
    assert "delete_selected" not in changelist.context["cl"].model_admin.get_actions(
        changelist.wsgi_request
    )
    assert CreditTransaction.objects.get(pk=entry.pk).reason == ""


def test_an_accounts_balance_cannot_be_edited_through_its_form(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)

    response = admin_client.post(url("creditaccount", "change", account.pk), {"balance": "1000"})
    delete = admin_client.post(url("creditaccount", "delete", account.pk), {"post": "yes"})

    assert (response.status_code, delete.status_code) == (403, 403)
    assert balance(account) == D("99.00")


# -- adjust credits ---------------------------------------------------------------------


def test_adjusting_by_a_positive_amount_grants_credits_with_the_reason_and_actor(
    admin_client: Client, admin_user: Any, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)

    response = adjust(admin_client, account, "25.50", "goodwill")

    assert response.status_code == 302
    assert response.url == url("creditaccount", "change", account.pk)
    assert balance(account) == D("124.50")
    entry = CreditTransaction.objects.latest("id")
    assert (entry.kind, entry.amount, entry.reason) == ("adjustment", D("25.50"), "goodwill")
    assert entry.actor == admin_user


def test_a_successful_adjustment_reports_the_new_balance(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)
    token = form_token(admin_client.get(adjust_url(account)))

    response = admin_client.post(
        adjust_url(account), {"amount": "+1", "reason": "r", "token": token}, follow=True
    )

    assert "by +1.00: the balance is now 100.00" in response.content.decode()


def test_adjusting_by_a_negative_amount_deducts_credits(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)

    response = adjust(admin_client, account, "-9", "duplicate purchase")

    assert response.status_code == 302
    assert balance(account) == D("90.00")
    assert CreditTransaction.objects.latest("id").amount == D("-9.00")


def test_an_adjustment_works_for_an_account_that_has_no_credits_yet(
    admin_client: Client, user: Any
) -> None:
    account = CreditAccount.objects.create(owner=user)

    adjust(admin_client, account, "5")

    assert balance(account) == D("5.00")


@pytest.mark.parametrize(
    ("amount", "reason", "field", "message"),
    [
        ("10", "", "reason", "This field is required."),
        ("", "why", "amount", "This field is required."),
        ("ten", "why", "amount", "amount is not a number"),
        ("0", "why", "amount", "amount must be more than zero"),
        ("-0", "why", "amount", "amount must be more than zero"),
        ("1.234", "why", "amount", "more than 2 decimal places"),
        ("-500", "why", "amount", "500.00 credits are needed but only 98.00 are available."),
    ],
)
def test_a_refused_adjustment_shows_a_form_error_and_changes_nothing(
    admin_client: Client,
    make_user: Callable[..., Any],
    amount: str,
    reason: str,
    field: str,
    message: str,
) -> None:
    account = funded(make_user)
    entries = CreditTransaction.objects.count()

    response = adjust(admin_client, account, amount, reason)

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert "No credits were changed" in response.content.decode()
    assert balance(account) == D("99.00")
    assert CreditTransaction.objects.count() == entries


def test_a_blank_reason_is_refused(admin_client: Client, make_user: Callable[..., Any]) -> None:
    account = funded(make_user)

    response = adjust(admin_client, account, "5", "   ")

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert balance(account) == D("99.00")


def test_submitting_the_same_form_twice_adjusts_once(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)
    token = form_token(admin_client.get(adjust_url(account)))
    data = {"amount": "-10", "reason": "refund", "token": token}

    first = admin_client.post(adjust_url(account), data)
    second = admin_client.post(adjust_url(account), data)

    assert (first.status_code, second.status_code) == (302, 302)
    assert balance(account) == D("89.00")
    assert CreditTransaction.objects.filter(kind="adjustment").count() == 1


def test_each_rendering_of_the_form_has_its_own_token(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)

    assert form_token(admin_client.get(adjust_url(account))) != form_token(
        admin_client.get(adjust_url(account))
    )


def test_resubmitting_a_form_with_another_amount_is_refused_with_a_fresh_token(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)
    token = form_token(admin_client.get(adjust_url(account)))
    admin_client.post(adjust_url(account), {"amount": "5", "reason": "r", "token": token})

    response = admin_client.post(
        adjust_url(account), {"amount": "6", "reason": "r", "token": token}
    )

    assert response.status_code == 200
    assert "already submitted with a different amount" in response.content.decode()
    assert form_token(response) != token
    assert balance(account) == D("104.00")


def test_a_tampered_token_is_refused(admin_client: Client, make_user: Callable[..., Any]) -> None:
    account = funded(make_user)

    response = admin_client.post(
        adjust_url(account), {"amount": "5", "reason": "r", "token": "x" * 300}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["token"]
    assert balance(account) == D("99.00")


def test_adjusting_an_unknown_account_redirects_to_the_list(admin_client: Client) -> None:
    response = admin_client.get(url("creditaccount", "adjust", 999999))

    assert response.status_code == 302
    assert response.url == url("creditaccount", "changelist")


def test_staff_without_the_change_permission_cannot_adjust(
    client: Client, make_user: Callable[..., Any]
) -> None:
    account = funded(make_user)
    viewer = make_user(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_creditaccount"))
    client.force_login(viewer)

    page = client.get(url("creditaccount", "change", account.pk))
    response = client.post(adjust_url(account), {"amount": "5", "reason": "r", "token": "t" * 32})
    changelist = client.get(url("creditaccount", "changelist"))

    assert page.status_code == 200
    assert adjust_url(account) not in page.content.decode()
    assert response.status_code == 403
    assert "adjust_credits" not in changelist.content.decode()
    assert balance(account) == D("99.00")


# -- the bulk action --------------------------------------------------------------------


def run_action(client: Client, accounts: list[CreditAccount], **form: str) -> Any:
    data: dict[str, Any] = {
        "action": "adjust_credits",
        "_selected_action": [account.pk for account in accounts],
        **form,
    }
    if not form:
        data["index"] = "0"
    return client.post(url("creditaccount", "changelist"), data)


def test_the_action_asks_for_an_amount_and_reason_for_the_selected_accounts(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    accounts = [funded(make_user), funded(make_user)]

    response = run_action(admin_client, accounts)

    content = response.content.decode()
    assert response.status_code == 200
    assert all(str(account.owner) in content for account in accounts)
    assert form_token(response)


def test_the_action_adjusts_every_selected_account_once(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    accounts = [funded(make_user), funded(make_user)]
    token = form_token(run_action(admin_client, accounts))
    form = {"apply": "1", "amount": "10", "reason": "promotion", "token": token}

    first = run_action(admin_client, accounts, **form)
    run_action(admin_client, accounts, **form)

    assert first.status_code == 302
    assert [balance(account) for account in accounts] == [D("109.00"), D("109.00")]
    assert CreditTransaction.objects.filter(kind="adjustment").count() == 2


def test_the_action_changes_no_account_when_one_cannot_be_adjusted(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    rich, poor = funded(make_user, 100), funded(make_user, 5)
    token = form_token(run_action(admin_client, [rich, poor]))

    response = run_action(
        admin_client, [rich, poor], apply="1", amount="-50", reason="fix", token=token
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["amount"]
    assert any(str(poor.owner) in error for error in errors)
    assert (balance(rich), balance(poor)) == (D("99.00"), D("4.00"))
    assert not CreditTransaction.objects.filter(kind="adjustment").exists()


def test_the_action_refuses_too_many_accounts(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    owners = [make_user() for _ in range(MAX_BULK_ADJUST + 1)]
    accounts = [CreditAccount.objects.create(owner=owner) for owner in owners]

    response = run_action(admin_client, accounts)

    assert response.status_code == 302
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("at most 100 accounts" in message for message in shown)
