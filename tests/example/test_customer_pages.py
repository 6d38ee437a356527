"""The customer's account pages under /users/, in a real browser against the demo server."""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Browser, Page, expect

from quickscale.apikeys.tokens import TOKEN_PATTERN
from tests.example.conftest import PASSWORD, DemoServer
from tests.example.test_playground import post_run, run_service, signed_in

pytestmark = pytest.mark.e2e


def test_a_visitor_is_sent_to_log_in_and_comes_back_to_the_page_asked_for(
    demo_server: DemoServer, page: Page
) -> None:
    email = demo_server.create_user()

    page.goto(demo_server.address("/users/runs/"))
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/users/runs/$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(demo_server.address("/users/runs/"))


# -- the overview ---------------------------------------------------------------------------


def test_a_new_user_without_credits_is_told_how_to_get_some(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page, credits=None)

    page.goto(demo_server.address("/users/"))

    expect(page.locator("#available")).to_have_text("0 credits")
    note = page.get_by_role("note").filter(has_text="no credits")
    expect(note).to_contain_text("You have no credits yet. Buy a pack on the pricing page")
    expect(note.get_by_role("link", name="pricing page")).to_have_attribute("href", "/pricing/")
    expect(page.get_by_text("Nothing has happened on your account yet.")).to_be_visible()


def test_the_overview_shows_each_grant_and_when_it_expires(
    demo_server: DemoServer, page: Page
) -> None:
    email = signed_in(demo_server, page, credits="50")
    demo_server.manage(
        "credits", "grant", email, "1250", "--source", "promotion", "--expires-in-days", "10"
    )
    now = datetime.now(timezone.utc)
    expiry = now + timedelta(days=10)
    day = f"{expiry.day} {expiry:%b}" + ("" if expiry.year == now.year else f" {expiry.year}")

    page.goto(demo_server.address("/users/"))

    expect(page.locator("#available")).to_have_text("1,300 credits")
    credits = page.get_by_role("region", name="Your credits", exact=True)
    expect(credits).to_contain_text(f"1,250 credits expire on {day}")
    expect(credits).to_contain_text("50 credits never expire")


def test_credits_held_by_a_running_service_are_shown_as_held(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page, credits="10")

    with demo_server.reports_held():
        post_run(page, demo_server, "document-report", secrets.token_urlsafe(24), text="Work.")
        page.goto(demo_server.address("/users/"))

        expect(page.locator("#available")).to_have_text("8 credits")
        expect(page.get_by_text("2 held by running services")).to_be_visible()


def test_the_usage_chart_has_every_one_of_the_last_30_days(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page)
    run_service(page, demo_server, "text-statistics", Text="Counted today.")
    today = datetime.now(timezone.utc)

    page.goto(demo_server.address("/users/"))
    page.get_by_text("Show the numbers").click()

    rows = page.locator("figure.chart tbody tr")
    expect(rows).to_have_count(30)
    expect(rows.last).to_have_text(re.compile(rf"^\s*{today.day} {today:%b}\s*0.50\s*$"))
    expect(rows.first).to_have_text(re.compile(r"^\s*\d{1,2} \w{3}\s*0\s*$"))
    expect(page.get_by_role("img", name=re.compile("0.50 credits in all"))).to_be_visible()


def test_recent_activity_links_to_the_whole_activity(demo_server: DemoServer, page: Page) -> None:
    signed_in(demo_server, page)
    run_service(page, demo_server, "text-statistics", Text="Recent.")

    page.goto(demo_server.address("/users/"))
    page.get_by_role("link", name="All activity").click()

    expect(page).to_have_url(demo_server.address("/users/activity/"))


# -- activity ---------------------------------------------------------------------------------


def test_activity_says_what_happened_newest_first_with_the_balance_after(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page)
    run_service(page, demo_server, "text-statistics", Text="One entry.")

    page.goto(demo_server.address("/users/activity/"))

    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Run of Text statistics")
    expect(rows.nth(0)).to_contain_text("\u22120.50")
    expect(rows.nth(0)).to_contain_text("49.50")
    expect(rows.nth(1)).to_contain_text("Promotional credits")
    expect(rows.nth(1)).to_contain_text("+50")
    expect(rows.nth(0).locator("time")).to_have_text(
        re.compile(r"^\d{1,2} \w{3} \d{4}, \d{2}:\d{2}$")
    )


def test_activity_is_paged_by_older_entries(demo_server: DemoServer, page: Page) -> None:
    signed_in(demo_server, page)
    for number in range(21):
        post_run(
            page, demo_server, "text-statistics", secrets.token_urlsafe(24), text=f"Run {number}."
        )

    page.goto(demo_server.address("/users/activity/"))
    expect(page.locator("tbody tr")).to_have_count(20)
    page.get_by_role("link", name=re.compile("Older entries")).click()

    expect(page).to_have_url(re.compile(r"/users/activity/\?before=\d+$"))
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.last).to_contain_text("Promotional credits")
    expect(page.get_by_role("link", name=re.compile("Older entries"))).to_have_count(0)
    page.get_by_role("link", name="Back to the newest").click()
    expect(page.locator("tbody tr")).to_have_count(20)


def test_a_cursor_that_is_not_an_entry_id_is_a_bad_request(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page, credits=None)
    cursors = ["abc", "-1", "0", "1.5", "99999999999999999999999"]

    answers = {
        cursor: page.request.get(demo_server.address(f"/users/activity/?before={cursor}")).status
        for cursor in cursors
    }
    page.goto(demo_server.address("/users/activity/?before=abc"))

    assert answers == dict.fromkeys(cursors, 400)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "That request could not be understood"
    )


# -- runs ------------------------------------------------------------------------------------


def test_the_runs_page_lists_only_the_persons_own_runs(
    demo_server: DemoServer, page: Page, browser: Browser
) -> None:
    other = browser.new_context().new_page()
    signed_in(demo_server, other)
    run_service(other, demo_server, "sentiment", Text="Someone else's words")
    signed_in(demo_server, page)
    run_service(page, demo_server, "text-statistics", Text="Mine.")

    page.goto(demo_server.address("/users/runs/"))

    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Text statistics")
    expect(rows.first).to_contain_text("Succeeded")
    other.context.close()


def test_another_persons_run_is_not_found(
    demo_server: DemoServer, page: Page, browser: Browser
) -> None:
    other = browser.new_context().new_page()
    signed_in(demo_server, other)
    theirs = run_service(other, demo_server, "sentiment", Text="Private words")
    other.context.close()
    signed_in(demo_server, page, credits=None)

    response = page.goto(demo_server.address(f"/users/runs/{theirs}/"))

    assert response is not None
    assert response.status == 404
    expect(page.get_by_text("Private words")).to_have_count(0)


def test_a_missing_run_is_not_found(demo_server: DemoServer, page: Page) -> None:
    signed_in(demo_server, page, credits=None)

    response = page.goto(demo_server.address("/users/runs/999999999/"))

    assert response is not None
    assert response.status == 404


def test_a_run_page_shows_its_details_and_leads_back_to_the_service(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page)
    run_service(page, demo_server, "sentiment", Text="Good")

    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text("Sentiment")
    expect(details).to_contain_text("Charged 1 credit")
    expect(details.locator("dd").nth(3)).to_have_text(re.compile(r"^\d+\.\d\d s$"))
    expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)
    page.get_by_role("link", name="Run again").click()
    expect(page).to_have_url(demo_server.address("/services/sentiment/"))


# -- settings and closing the account -------------------------------------------------------------


def test_the_profile_name_is_saved(demo_server: DemoServer, page: Page) -> None:
    signed_in(demo_server, page, credits=None)
    page.goto(demo_server.address("/users/settings/"))

    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.get_by_label("Last name")).to_have_value("Lovelace")
    page.goto(demo_server.address("/users/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada")


def test_settings_lead_to_the_email_and_password_pages(demo_server: DemoServer, page: Page) -> None:
    signed_in(demo_server, page, credits=None)
    page.goto(demo_server.address("/users/settings/"))

    expect(page.get_by_role("link", name="Manage email addresses")).to_have_attribute(
        "href", "/accounts/email/"
    )
    expect(page.get_by_role("link", name="Change your password")).to_have_attribute(
        "href", "/accounts/password/change/"
    )


def test_a_change_without_the_forms_token_is_refused(demo_server: DemoServer, page: Page) -> None:
    signed_in(demo_server, page, credits=None)

    response = page.request.post(
        demo_server.address("/users/settings/"), form={"first_name": "Mallory"}
    )

    assert response.status == 403
    page.goto(demo_server.address("/users/settings/"))
    expect(page.get_by_label("First name")).to_have_value("")


def test_closing_an_account_says_what_happens_to_credits_keys_and_payments(
    demo_server: DemoServer, page: Page
) -> None:
    email = signed_in(demo_server, page, credits="12")
    demo_server.manage("apikeys", "create", email, "--name", "CI", "--scope", "credits:read")

    page.goto(demo_server.address("/users/delete/"))

    what = page.get_by_role("region", name="What happens when you close it")
    expect(what).to_contain_text("Your 12 credits are forfeited")
    expect(what).to_contain_text("not refunded")
    expect(what).to_contain_text("Your active key is revoked at once")
    expect(what).to_contain_text("payments and refunds are kept")


def test_closing_an_account_needs_its_email_address_typed(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page, credits=None)
    page.goto(demo_server.address("/users/delete/"))

    page.get_by_label("Your email address").fill("someone-else@example.com")
    page.get_by_role("button", name="Close my account").click()

    expect(page.get_by_text("This is not the address of your account.")).to_be_visible()
    expect(page).to_have_url(demo_server.address("/users/delete/"))
    page.goto(demo_server.address("/users/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")


def test_a_closed_account_is_logged_out_and_cannot_log_in_again(
    demo_server: DemoServer, page: Page
) -> None:
    email = signed_in(demo_server, page, credits=None)
    page.goto(demo_server.address("/users/delete/"))

    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Close my account").click()

    expect(page).to_have_url(demo_server.address("/"))
    expect(page.get_by_text("Your account is closed.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Log in")
    page.goto(demo_server.address("/accounts/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_text("not correct")).to_be_visible()


def test_closing_an_account_revokes_its_keys_and_is_in_the_audit_log(
    demo_server: DemoServer, page: Page, browser: Browser
) -> None:
    email = signed_in(demo_server, page, credits="30")
    printed = demo_server.manage(
        "apikeys", "create", email, "--name", "CI", "--scope", "credits:read"
    )
    token = re.search(TOKEN_PATTERN, printed)
    assert token is not None
    page.goto(demo_server.address("/users/delete/"))
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Close my account").click()
    expect(page.get_by_text("Your account is closed.")).to_be_visible()

    request = urllib.request.Request(
        demo_server.address("/api/v1/credits/balance"),
        headers={"Authorization": f"Bearer {token[0]}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 401

    auditor = f"auditor-{secrets.token_hex(4)}@example.com"
    demo_server.manage("create_user", auditor, "--password", PASSWORD, "--superuser")
    staff = browser.new_context().new_page()
    demo_server.log_in(staff, auditor)
    staff.goto(demo_server.address("/dashboard/audit/?action=account.closed"))
    closed = staff.locator("tbody tr").filter(has_text=email)
    expect(closed).to_contain_text("account.closed")
    user_id = re.search(r"user (\d+)", closed.inner_text())
    assert user_id is not None
    for action in ("credits.adjusted", "apikey.revoked"):
        staff.goto(demo_server.address(f"/dashboard/audit/?action={action}&actor={user_id[1]}"))
        expect(staff.locator("tbody tr").filter(has_text=action)).to_have_count(1)
    staff.context.close()


def test_an_account_is_not_closed_while_a_service_runs_for_it(
    demo_server: DemoServer, page: Page
) -> None:
    email = signed_in(demo_server, page, credits="10")

    with demo_server.reports_held():
        post_run(page, demo_server, "document-report", secrets.token_urlsafe(24), text="Work.")
        page.goto(demo_server.address("/users/delete/"))
        expect(page.get_by_role("button", name="Close my account")).to_be_disabled()
        csrf = page.locator("main input[name=csrfmiddlewaretoken]").input_value()
        answer = page.request.post(
            demo_server.address("/users/delete/"),
            form={"csrfmiddlewaretoken": csrf, "email": email},
            max_redirects=0,
        )

    assert answer.status == 200
    assert "Your account cannot be closed yet." in answer.text()
    page.goto(demo_server.address("/users/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
