"""The staff dashboard at /dashboard/, as staff, customers and visitors meet it in a browser."""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.example.conftest import PASSWORD, DemoServer

#: Every page of the dashboard a GET opens (the audit log is the audit app's own).
PAGES = [
    "/dashboard/",
    "/dashboard/users/",
    "/dashboard/credits/",
    "/dashboard/services/",
    "/dashboard/payments/",
    "/dashboard/analytics/",
    "/dashboard/analytics/runs.csv",
]
PHONE = 390
_superusers = itertools.count(1)


#: What the staff's actions need, as in Django's admin.
ACTION_PERMISSIONS = ["change_creditaccount", "change_apikey", "change_service", "change_payment"]


@pytest.fixture(scope="module")
def staff(demo_server: DemoServer) -> str:
    """A staff member with the permissions the dashboard's actions need, and no other."""
    email = demo_server.create_user(staff=True)
    demo_server.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.contrib.auth.models import Permission; "
        "from users.models import CustomUser; "
        f"CustomUser.objects.get(email={email!r}).user_permissions.add("
        f"*Permission.objects.filter(codename__in={ACTION_PERMISSIONS!r}))",
    )
    return email


@pytest.fixture(scope="module")
def onlooker(demo_server: DemoServer) -> str:
    """A staff member with the staff flag and no permission: may look, may not act."""
    return demo_server.create_user(staff=True)


@pytest.fixture(scope="module")
def auditor(demo_server: DemoServer) -> str:
    """A superuser: staff who may also read the audit log."""
    email = f"auditor{next(_superusers)}-{os.getpid()}@example.com"
    demo_server.manage("create_user", email, "--password", PASSWORD, "--superuser")
    return email


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": PHONE, "height": 800})
    yield context.new_page()
    context.close()


def open_user(page: Page, server: DemoServer, email: str) -> int:
    """Find ``email`` on the users page and open their page; returns their id."""
    page.goto(server.address("/dashboard/users/"))
    page.get_by_label("Email or name").fill(email)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=email).click()
    expect(page.get_by_role("heading", level=1, name=email)).to_be_visible()
    found = re.search(r"/dashboard/users/(\d+)/", page.url)
    assert found is not None
    return int(found.group(1))


def stat(page: Page, label: str) -> Locator:
    """The value of the tile labelled ``label``."""
    return page.locator(".stat", has=page.get_by_text(label, exact=True)).locator(".stat-value")


def available(page: Page) -> Locator:
    return stat(page, "Available")


def grant_form(page: Page) -> Locator:
    return page.get_by_role("region", name="Grant credits")


def deduct_form(page: Page) -> Locator:
    return page.get_by_role("region", name="Deduct credits")


def audit_rows(page: Page, server: DemoServer, query: str) -> Locator:
    page.goto(server.address(f"/dashboard/audit/?{query}"))
    return page.get_by_role("table").get_by_role("row")


# -- who may open it -----------------------------------------------------------------------


def test_a_visitor_is_sent_to_log_in_from_every_dashboard_page(
    demo_server: DemoServer, page: Page
) -> None:
    answers = {path: page.request.get(demo_server.address(path), max_redirects=0) for path in PAGES}

    assert {path: response.status for path, response in answers.items()} == dict.fromkeys(
        PAGES, 302
    )
    assert all(
        response.headers["location"].startswith("/accounts/login/?next=/dashboard/")
        for response in answers.values()
    )


def test_a_signed_in_customer_gets_the_403_page_on_every_dashboard_page(
    demo_server: DemoServer, page: Page
) -> None:
    demo_server.log_in(page, demo_server.create_user())

    for path in PAGES[:-1]:
        response = page.goto(demo_server.address(path))

        assert response is not None and response.status == 403, path
        expect(page).to_have_url(demo_server.address(path))
        expect(
            page.get_by_role("heading", name="You do not have access to this page")
        ).to_be_visible()


def test_staff_without_the_permissions_see_the_pages_but_no_forms_and_may_not_act(
    demo_server: DemoServer, page: Page, onlooker: str
) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, onlooker)
    user_id = open_user(page, demo_server, email)

    expect(page.get_by_role("button", name="Grant credits")).to_have_count(0)
    expect(page.get_by_role("button", name="Deduct credits")).to_have_count(0)
    page.goto(demo_server.address("/dashboard/services/"))
    expect(page.get_by_role("button", name=re.compile("^(Save|Disable|Enable)"))).to_have_count(0)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    grant = page.request.post(
        demo_server.address(f"/dashboard/users/{user_id}/grant/"),
        headers={"X-CSRFToken": token},
        form={"amount": "5", "reason": "x", "source": "promotion", "token": "A" * 32},
    )
    assert grant.status == 403
    assert "You do not have access to this page" in grant.text()
    assert available_credits(demo_server, email) == "50.00"


def test_a_customer_cannot_download_a_chart(demo_server: DemoServer, page: Page) -> None:
    demo_server.log_in(page, demo_server.create_user())

    response = page.request.get(demo_server.address("/dashboard/analytics/runs.csv"))

    assert response.status == 403


# -- overview --------------------------------------------------------------------------------


def test_the_overview_counts_a_new_sign_up(demo_server: DemoServer, page: Page, staff: str) -> None:
    demo_server.log_in(page, staff)
    page.goto(demo_server.address("/dashboard/"))
    tile = stat(page, "Sign-ups this month")
    before = int(tile.inner_text())

    demo_server.create_user()
    page.reload()

    expect(tile).to_have_text(str(before + 1))


def test_the_overviews_outstanding_credits_are_the_last_day_of_their_chart(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    demo_server.log_in(page, staff)
    page.goto(demo_server.address("/dashboard/"))

    tile = stat(page, "Credits outstanding")
    rows = csv_rows(page, demo_server, "outstanding")

    assert Decimal(tile.inner_text().replace(",", "")) == Decimal(rows[-1][1])


# -- users -----------------------------------------------------------------------------------


def test_staff_find_a_user_by_part_of_their_email(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, staff)

    page.goto(demo_server.address("/dashboard/users/"))
    page.get_by_label("Email or name").fill(email.split("@")[0])
    page.get_by_role("button", name="Search").click()

    expect(page.get_by_role("heading", name="1 user found")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=email))
    expect(row.get_by_role("cell").nth(0)).to_have_text("50")


def test_staff_grant_credits_and_the_audit_log_names_them(
    demo_server: DemoServer, page: Page, auditor: str
) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, auditor)
    open_user(page, demo_server, email)

    form = grant_form(page)
    form.get_by_label("Amount").fill("25")
    form.get_by_label("Reason").fill("Sorry for the outage")
    form.get_by_role("button", name="Grant credits").click()

    expect(
        page.get_by_text(f"Granted 25 credits to {email}: the balance is now 75.")
    ).to_be_visible()
    expect(available(page)).to_have_text("75")
    page.get_by_role("link", name="About their credits").click()
    granted = page.get_by_role("row").filter(has_text="credits.granted").filter(has_text=auditor)
    expect(granted).to_have_count(1)


def test_granted_credits_with_an_expiry_date_last_to_the_end_of_that_day(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = demo_server.create_user()
    demo_server.log_in(page, staff)
    open_user(page, demo_server, email)

    form = grant_form(page)
    form.get_by_label("Amount").fill("10")
    form.get_by_label("Source").select_option("admin")
    form.get_by_label("Expires on").fill("2031-01-31")
    form.get_by_label("Reason").fill("Trial extension")
    form.get_by_role("button", name="Grant credits").click()

    grants = page.get_by_role("region", name="Credits by grant")
    expect(grants.get_by_role("row", name="Admin 10 31 Jan 2031 23:59")).to_be_visible()


def test_a_grant_form_sent_twice_grants_once_and_says_so(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, staff)
    user_id = open_user(page, demo_server, email)
    form = grant_form(page)
    form.get_by_label("Amount").fill("5")
    form.get_by_label("Reason").fill("Goodwill")
    sent = {
        "csrfmiddlewaretoken": form.locator("[name=csrfmiddlewaretoken]").input_value(),
        "grant-token": form.locator("[name=grant-token]").input_value(),
        "grant-amount": "5",
        "grant-source": "promotion",
        "grant-reason": "Goodwill",
    }
    form.get_by_role("button", name="Grant credits").click()
    expect(available(page)).to_have_text("55")

    again = page.request.post(demo_server.address(f"/dashboard/users/{user_id}/grant/"), form=sent)

    assert again.ok
    assert "This form was sent already: nothing more was changed." in again.text()
    page.reload()
    expect(available(page)).to_have_text("55")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("lots", "amount is not a number: 'lots'."),
        ("0", "amount must be more than zero, not 0."),
        ("-5", "amount must be more than zero, not -5."),
        ("1.234", "amount has more than 2 decimal places: 1.234."),
    ],
)
def test_a_bad_amount_is_refused_with_the_ledgers_message_and_changes_nothing(
    demo_server: DemoServer, page: Page, staff: str, amount: str, message: str
) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, staff)
    open_user(page, demo_server, email)

    form = grant_form(page)
    form.get_by_label("Amount").fill(amount)
    form.get_by_label("Reason").fill("Testing")
    form.get_by_role("button", name="Grant credits").click()

    expect(grant_form(page).get_by_text(message)).to_be_visible()
    expect(grant_form(page).get_by_label("Amount")).to_have_value(amount)
    expect(available(page)).to_have_text("50")


def test_a_change_without_a_reason_is_refused(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, staff)
    open_user(page, demo_server, email)

    form = deduct_form(page)
    form.get_by_label("Amount").fill("5")
    form.get_by_label("Reason").evaluate("field => field.removeAttribute('required')")
    form.get_by_role("button", name="Deduct credits").click()

    expect(deduct_form(page).get_by_text("This field is required.")).to_be_visible()
    expect(available(page)).to_have_text("50")


def test_staff_deduct_available_credits(demo_server: DemoServer, page: Page, staff: str) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, staff)
    open_user(page, demo_server, email)

    form = deduct_form(page)
    form.get_by_label("Amount").fill("12.50")
    form.get_by_label("Reason").fill("Duplicate promotion")
    form.get_by_role("button", name="Deduct credits").click()

    expect(available(page)).to_have_text("37.50")
    activity = page.get_by_role("region", name="Recent ledger activity")
    expect(activity.get_by_role("row").nth(1)).to_contain_text("\u221212.50")
    expect(activity.get_by_role("row").nth(1)).to_contain_text(f"by {staff}")


def test_deducting_more_than_is_available_is_refused_and_changes_nothing(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, staff)
    open_user(page, demo_server, email)

    form = deduct_form(page)
    form.get_by_label("Amount").fill("80")
    form.get_by_label("Reason").fill("Too much")
    form.get_by_role("button", name="Deduct credits").click()

    expect(
        deduct_form(page).get_by_text("80.00 credits are needed but only 50.00 are available.")
    ).to_be_visible()
    expect(available(page)).to_have_text("50")


def test_staff_revoke_a_users_api_key_and_the_audit_log_names_them(
    demo_server: DemoServer, page: Page, auditor: str
) -> None:
    email = demo_server.create_user()
    demo_server.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from quickscale.apikeys.keys import create_key; from users.models import CustomUser; "
        f"create_key(CustomUser.objects.get(email='{email}'), 'Build server')",
    )
    demo_server.log_in(page, auditor)
    open_user(page, demo_server, email)

    keys = page.get_by_role("region", name="API keys")
    keys.get_by_role("button", name="Revoke Build server").click()

    expect(page.get_by_text("Revoked the key “Build server”")).to_be_visible()
    expect(
        keys.get_by_role("row", name=re.compile("Build server")).get_by_text("Revoked")
    ).to_be_visible()
    revoked = audit_rows(page, demo_server, f"action=apikey.revoked&actor={auditor}")
    expect(revoked.filter(has_text="Build server").filter(has_text=auditor)).to_have_count(1)


# -- the ledger ------------------------------------------------------------------------------


def test_the_ledger_filters_entries_by_the_users_email(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = demo_server.create_user(credits="50")
    demo_server.log_in(page, staff)

    page.goto(demo_server.address("/dashboard/credits/"))
    page.get_by_label("User's email").fill(email)
    page.get_by_role("button", name="Filter").click()

    entries = page.get_by_role("region", name="Entries").get_by_role("row")
    expect(entries).to_have_count(2)
    expect(entries.nth(1)).to_contain_text(email)
    expect(entries.nth(1)).to_contain_text("+50")


def test_a_bad_ledger_filter_is_a_form_error_not_a_server_error(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    demo_server.log_in(page, staff)

    response = page.goto(
        demo_server.address("/dashboard/credits/?email=nobody&since=yesterday&kind=gift&before=x")
    )

    assert response is not None and response.status == 200
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_text("Enter a valid date.")).to_be_visible()
    expect(
        page.get_by_text("Select a valid choice. gift is not one of the available")
    ).to_be_visible()
    expect(page.get_by_text("No entries are shown while a filter is not valid.")).to_be_visible()


# -- services --------------------------------------------------------------------------------


def service_row(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=re.compile(name)))


def test_a_run_is_counted_on_its_services_row(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    demo_server.log_in(page, staff)
    page.goto(demo_server.address("/dashboard/services/"))
    runs = service_row(page, "Text statistics").get_by_role("cell").nth(1)
    before = int(runs.inner_text())

    demo_server.manage(
        "services",
        "run",
        demo_server.create_user(credits="5"),
        "text-statistics",
        "--input",
        '{"text": "One. Two."}',
    )
    page.reload()

    expect(runs).to_have_text(str(before + 1))


def test_staff_override_a_price_and_clear_it_and_the_audit_log_names_them(
    demo_server: DemoServer, page: Page, auditor: str
) -> None:
    demo_server.log_in(page, auditor)
    page.goto(demo_server.address("/dashboard/services/"))

    service_row(page, "Document report").get_by_role("textbox").fill("3.50")
    service_row(page, "Document report").get_by_role("button", name="Save").click()
    expect(page.get_by_text("Document report now costs 3.50 credits a run.")).to_be_visible()
    service_row(page, "Document report").get_by_role("textbox").fill("")
    service_row(page, "Document report").get_by_role("button", name="Save").click()

    expect(page.get_by_text("Document report costs its own price again: 2.")).to_be_visible()
    changes = audit_rows(
        page, demo_server, f"action=services.catalog.price_changed&actor={auditor}"
    )
    expect(changes.filter(has_text="Document report")).to_have_count(2)


def test_a_bad_price_override_is_refused_with_the_field_named(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    demo_server.log_in(page, staff)
    page.goto(demo_server.address("/dashboard/services/"))

    service_row(page, "Document report").get_by_role("textbox").fill("1.005")
    service_row(page, "Document report").get_by_role("button", name="Save").click()

    expect(service_row(page, "Document report")).to_contain_text(
        "price has more than 2 decimal places: 1.005."
    )
    expect(service_row(page, "Document report").get_by_role("cell").first).to_have_text("2")


def test_staff_disable_a_service_and_enable_it_again_and_the_audit_log_names_them(
    demo_server: DemoServer, page: Page, auditor: str
) -> None:
    demo_server.log_in(page, auditor)
    page.goto(demo_server.address("/dashboard/services/"))

    service_row(page, "Document report").get_by_role("button", name="Disable").click()
    expect(service_row(page, "Document report").get_by_text("Disabled", exact=True)).to_be_visible()
    service_row(page, "Document report").get_by_role("button", name="Enable").click()

    expect(service_row(page, "Document report").get_by_text("Enabled", exact=True)).to_be_visible()
    switched = audit_rows(page, demo_server, f"action=services.catalog.&actor={auditor}")
    expect(switched.filter(has_text="services.catalog.disabled")).not_to_have_count(0)
    expect(switched.filter(has_text="services.catalog.enabled")).not_to_have_count(0)


# -- payments and refunds ---------------------------------------------------------------------


def bought_pack(demo_server: DemoServer, page: Page) -> str:
    """A new customer who bought the Starter pack (5.00 USD, 100 credits) in the sandbox."""
    email = demo_server.create_user()
    demo_server.log_in(page, email)
    page.goto(demo_server.address("/pricing/"))
    page.get_by_role("listitem").filter(has_text="Starter pack").get_by_role(
        "button", name="Buy"
    ).click()
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible(timeout=30_000)
    page.context.clear_cookies()
    return email


def open_payment(page: Page, server: DemoServer, email: str) -> None:
    page.goto(server.address(f"/dashboard/payments/?q={email}"))
    page.get_by_role("row").filter(has_text=email).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1, name="Payment of 5.00 USD")).to_be_visible()


def test_staff_refund_part_of_a_payment_and_see_the_credits_taken_back(
    demo_server: DemoServer, page: Page, auditor: str
) -> None:
    email = bought_pack(demo_server, page)
    demo_server.log_in(page, auditor)
    open_payment(page, demo_server, email)

    refund = page.get_by_role("region", name="Refund", exact=True)
    refund.get_by_label("Amount").fill("2.00")
    refund.get_by_label("Reason").fill("Asked within a week")
    refund.get_by_role("button", name="Refund").click()

    row = page.get_by_role("region", name="Refunds").get_by_role("row").nth(1)
    expect(row).to_have_text(re.compile(r"2\.00 USD\s*Succeeded\s*40\s*40\s*0"), timeout=20_000)
    expect(stat(page, "Credits taken back")).to_have_text("40")
    requested = audit_rows(page, demo_server, f"action=billing.refund.requested&actor={auditor}")
    expect(requested.filter(has_text=auditor)).to_have_count(1)


def test_a_refund_form_sent_twice_refunds_once(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = bought_pack(demo_server, page)
    demo_server.log_in(page, staff)
    open_payment(page, demo_server, email)
    refund = page.get_by_role("region", name="Refund", exact=True)
    refund.get_by_label("Amount").fill("1")
    refund.get_by_label("Reason").fill("Goodwill")
    sent = {
        "csrfmiddlewaretoken": refund.locator("[name=csrfmiddlewaretoken]").input_value(),
        "token": refund.locator("[name=token]").input_value(),
        "amount": "1",
        "reason": "Goodwill",
    }
    action = refund.locator("form").get_attribute("action")
    refund.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("region", name="Refunds").get_by_role("row")).to_have_count(
        2, timeout=20_000
    )

    again = page.request.post(demo_server.address(str(action)), form=sent)

    assert "This form was sent already: no other refund was made." in again.text()
    page.reload()
    expect(page.get_by_role("region", name="Refunds").get_by_role("row")).to_have_count(2)
    expect(page.locator(".stat", has=page.get_by_text("Paid", exact=True))).to_contain_text(
        "1.00 USD refunded"
    )


def test_a_refund_of_more_than_is_left_is_refused_with_the_amount_named(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = bought_pack(demo_server, page)
    demo_server.log_in(page, staff)
    open_payment(page, demo_server, email)

    refund = page.get_by_role("region", name="Refund", exact=True)
    refund.get_by_label("Amount").fill("6")
    refund.get_by_label("Reason").fill("Too much")
    refund.get_by_role("button", name="Refund").click()

    expect(page.get_by_role("region", name="Refund", exact=True)).to_contain_text(
        "A refund of 6.00 USD is not possible"
    )
    expect(page.get_by_role("region", name="Refunds")).to_contain_text("No refunds.")


def test_staff_renew_a_subscribers_plan_from_their_page_in_the_sandbox(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    email = demo_server.create_user()
    demo_server.log_in(page, email)
    page.goto(demo_server.address("/pricing/"))
    page.get_by_role("listitem").filter(has_text="Basic plan").get_by_role(
        "button", name="Subscribe"
    ).click()
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_role("heading", name="Your plan is active")).to_be_visible(timeout=30_000)
    page.context.clear_cookies()
    demo_server.log_in(page, staff)
    open_user(page, demo_server, email)

    page.get_by_role("button", name="Advance one period").click()

    expect(page.get_by_text(re.compile(r"The subscription renewed until"))).to_be_visible()
    expect(page.get_by_role("heading", level=1, name=email)).to_be_visible()
    # The next period's credits came through the webhook, on top of the first period's.
    expected = "400.00 ['200.00', '200.00']"
    plan_grants = demo_server.python_until(
        "from quickscale.credits import ledger; from users.models import CustomUser; "
        f"u = CustomUser.objects.get(email={email!r}); "
        "print(ledger.balance(u).balance, "
        "sorted(str(g.remaining) for g in ledger.grants(u) if g.source == 'subscription'))",
        expected,
    )
    assert plan_grants == expected


# -- analytics -------------------------------------------------------------------------------


def available_credits(server: DemoServer, email: str) -> str:
    return server.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from quickscale.credits import ledger; from users.models import CustomUser; "
        f"print(ledger.balance(CustomUser.objects.get(email={email!r})).available)",
    ).strip()


def csv_rows(page: Page, server: DemoServer, name: str) -> list[list[str]]:
    response = page.request.get(server.address(f"/dashboard/analytics/{name}.csv"))
    assert response.status == 200
    assert response.headers["content-disposition"].startswith(f'attachment; filename="{name}-')
    return list(csv.reader(io.StringIO(response.text())))


def test_a_charts_csv_has_every_day_of_the_last_30_days_zeros_included(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    demo_server.log_in(page, staff)

    rows = csv_rows(page, demo_server, "churn")

    today = datetime.now(timezone.utc).date()
    days = [date.fromisoformat(row[0]) for row in rows[1:]]
    assert rows[0] == ["period", "Ended"]
    assert days == [today - timedelta(days=29 - i) for i in range(30)]
    assert "0" in {row[1] for row in rows[1:]}


def test_a_charts_csv_holds_exactly_the_numbers_of_its_table(
    demo_server: DemoServer, page: Page, staff: str
) -> None:
    demo_server.log_in(page, staff)
    page.goto(demo_server.address("/dashboard/analytics/"))
    chart = page.locator("#runs")
    chart.get_by_text("Show the numbers").click()
    table = [
        [cell.replace(",", "") for cell in row.locator("th, td").all_inner_texts()]
        for row in chart.get_by_role("row").all()[1:]
    ]

    rows = csv_rows(page, demo_server, "runs")

    assert [row[1:] for row in rows[1:]] == [row[1:] for row in table]
    assert rows[0] == ["period", *chart.locator("thead th").all_text_contents()[1:-1], "total"]


def test_an_unknown_chart_is_not_found(demo_server: DemoServer, page: Page, staff: str) -> None:
    demo_server.log_in(page, staff)

    answers = [
        page.request.get(demo_server.address(f"/dashboard/analytics/{name}.csv")).status
        for name in ("weather", "revenue-xyz")
    ]

    assert answers == [404, 404]


# -- narrow screens --------------------------------------------------------------------------


def test_no_dashboard_page_is_wider_than_a_phone(
    demo_server: DemoServer, phone: Page, auditor: str
) -> None:
    demo_server.log_in(phone, auditor)
    widths = {}
    for path in [*PAGES[:-1], "/dashboard/audit/"]:
        phone.goto(demo_server.address(path))
        widths[path] = phone.evaluate("document.documentElement.scrollWidth")

    assert widths == dict.fromkeys(widths, PHONE)


def test_the_audit_logs_table_scrolls_inside_its_card_on_a_phone(
    demo_server: DemoServer, phone: Page, auditor: str
) -> None:
    demo_server.log_in(phone, auditor)
    phone.goto(demo_server.address("/dashboard/audit/"))

    table = phone.locator(".qs-audit-table")
    width = table.evaluate("table => table.getBoundingClientRect().width")
    wrapper = table.evaluate("table => table.parentElement.clientWidth")

    assert width > wrapper
    assert phone.evaluate("document.documentElement.scrollWidth") == PHONE
