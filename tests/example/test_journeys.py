"""What a new customer does first, end to end in a real browser: sign up and confirm the email
address, then buy credits and a plan through the payment sandbox and see them arrive."""

from __future__ import annotations

import itertools
import os
import re

from playwright.sync_api import Page, expect

from tests.example.conftest import PASSWORD, DemoServer

_numbers = itertools.count(1)
#: Milliseconds to wait for what a webhook brings: the task worker processes it first.
WEBHOOK_WAIT = 30_000


def new_address() -> str:
    return f"newcomer{next(_numbers)}-{os.getpid()}@example.com"


def sign_up(page: Page, server: DemoServer, email: str) -> None:
    page.goto(server.url)
    page.get_by_role("link", name="Sign up", exact=True).click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()


def email_to(server: DemoServer, address: str) -> str:
    """The last email the console backend printed to ``address``."""
    printed = server.log.read_text()
    messages = [
        part for part in printed.split("Content-Type: text/plain") if f"To: {address}" in part
    ]
    assert messages, f"no email to {address} was printed"
    return messages[-1]


def test_a_visitor_signs_up_lands_on_their_account_and_confirms_their_address(
    demo_server: DemoServer, page: Page
) -> None:
    email = new_address()

    sign_up(page, demo_server, email)

    expect(page).to_have_url(demo_server.address("/users/"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    message = email_to(demo_server, email)
    assert "Subject: [QuickScale] Please Confirm Your Email Address" in message
    link = re.search(r"http://\S+/accounts/confirm-email/\S+/", message)
    assert link is not None
    page.goto(link.group(0))
    page.get_by_role("button", name="Confirm").click()
    page.goto(demo_server.address("/accounts/email/"))
    expect(page.get_by_text("Verified")).to_be_visible()


def buy(page: Page, server: DemoServer, product: str, button: str) -> None:
    """Choose ``product`` on the pricing page and pay for it on the sandbox's checkout page."""
    page.goto(server.address("/pricing/"))
    page.get_by_role("listitem").filter(has_text=product).get_by_role("button", name=button).click()
    expect(page.get_by_text("Test payment: no money moves")).to_be_visible()
    page.get_by_role("button", name="Pay").click()


def test_a_pack_bought_in_the_sandbox_adds_its_credits_through_the_webhook(
    demo_server: DemoServer, page: Page
) -> None:
    email = demo_server.create_user()
    demo_server.log_in(page, email)

    buy(page, demo_server, "Starter pack", "Buy")

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible(timeout=WEBHOOK_WAIT)
    expect(page.get_by_text("100 credits were added to your balance.")).to_be_visible()
    page.goto(demo_server.address("/users/"))
    expect(page.locator("#available")).to_have_text("100 credits")
    stored = demo_server.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from quickscale.billing.models import WebhookEvent, Payment; "
        f"p = Payment.objects.get(user__email='{email}'); "
        "print(p.status, p.credits, WebhookEvent.objects.filter("
        "object_id=p.checkout_session_id, status='processed').count())",
    )
    assert stored.split() == ["paid", "100.00000000", "1"]


def test_reloading_the_success_page_adds_nothing_more(demo_server: DemoServer, page: Page) -> None:
    email = demo_server.create_user()
    demo_server.log_in(page, email)
    buy(page, demo_server, "Starter pack", "Buy")
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible(timeout=WEBHOOK_WAIT)

    page.reload()
    page.reload()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible(timeout=WEBHOOK_WAIT)
    balance = demo_server.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from quickscale.credits import ledger; from users.models import CustomUser; "
        f"print(ledger.balance(CustomUser.objects.get(email='{email}')).balance)",
    )
    assert balance.strip() == "100.00"


def test_a_plan_bought_in_the_sandbox_grants_its_credits_until_the_period_ends(
    demo_server: DemoServer, page: Page
) -> None:
    email = demo_server.create_user()
    demo_server.log_in(page, email)

    buy(page, demo_server, "Basic plan", "Subscribe")

    active = page.get_by_role("heading", name="Your plan is active")
    expect(active).to_be_visible(timeout=WEBHOOK_WAIT)
    page.goto(demo_server.address("/users/"))
    expect(page.locator("main")).to_contain_text(re.compile(r"200 credits expire on \d+ \w+"))


def test_staff_find_a_customer_grant_credits_refund_a_payment_and_see_both_everywhere(
    demo_server: DemoServer, page: Page
) -> None:
    email = demo_server.create_user()
    demo_server.log_in(page, email)
    buy(page, demo_server, "Starter pack", "Buy")
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible(timeout=WEBHOOK_WAIT)
    page.context.clear_cookies()
    staff = demo_server.create_user(staff=True)
    demo_server.manage("shell", "-v", "0", "-c", SUPERUSER.format(email=staff))
    demo_server.log_in(page, staff)

    page.goto(demo_server.address("/dashboard/users/"))
    page.get_by_label("Email or name").fill(email)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=email).click()
    grant = page.get_by_role("region", name="Grant credits")
    grant.get_by_label("Amount").fill("25")
    grant.get_by_label("Reason").fill("Sorry for the outage")
    grant.get_by_role("button", name="Grant credits").click()
    expect(page.get_by_text(f"Granted 25 credits to {email}")).to_be_visible()
    user_page = page.url
    payments = page.get_by_role("region", name="Payments")
    payments.get_by_role("row").filter(has_text="Starter pack").get_by_role("link").first.click()
    refund = page.get_by_role("region", name="Refund", exact=True)
    refund.get_by_label("Amount").fill("5.00")
    refund.get_by_label("Reason").fill("Did not need it")
    refund.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("region", name="Refunds").get_by_role("row")).to_have_count(
        2, timeout=WEBHOOK_WAIT
    )

    page.goto(user_page)
    activity = page.get_by_role("region", name="Recent ledger activity")
    expect(activity).to_contain_text("Sorry for the outage")
    expect(activity).to_contain_text(re.compile(r"Stripe refund re_\w+"))
    expect(page.get_by_role("region", name="Payments")).to_contain_text("Refunded")
    page.goto(demo_server.address("/dashboard/audit/?actor_type=user"))
    events = page.get_by_role("table").get_by_role("row").filter(has_text=staff)
    expect(events.filter(has_text="credits.granted")).to_have_count(1)
    expect(events.filter(has_text="billing.refund.requested")).to_have_count(1)


#: Makes a user a superuser: staff who may do and see everything (the audit log included).
SUPERUSER = (
    "from users.models import CustomUser; "
    "CustomUser.objects.filter(email={email!r}).update(is_superuser=True)"
)
