"""The service playground at /services/, in a real browser against the demo server."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Page, expect

from tests.example.conftest import DemoServer

RUN_PAGE = re.compile(r"/users/runs/(\d+)/$")


def run_service(page: Page, demo_server: DemoServer, slug: str, **fields: str) -> int:
    """Fill the service's form (field label -> value), press Run; the id of the run shown."""
    page.goto(demo_server.address(f"/services/{slug}/"))
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(RUN_PAGE)
    match = RUN_PAGE.search(page.url)
    assert match is not None
    return int(match[1])


def post_run(page: Page, demo_server: DemoServer, slug: str, token: str, **data: str) -> str:
    """Send the service's Run form as the browser would, with ``token`` as its one-time token;
    where the server sends the browser next."""
    page.goto(demo_server.address(f"/services/{slug}/"))
    csrf = page.locator("main input[name=csrfmiddlewaretoken]").input_value()
    response = page.request.post(
        demo_server.address(f"/services/{slug}/"),
        form={"csrfmiddlewaretoken": csrf, "run_token": token, **data},
        max_redirects=0,
    )
    assert response.status == 303, response.text()
    return response.headers["location"]


def signed_in(demo_server: DemoServer, page: Page, credits: str | None = "50") -> str:
    email = demo_server.create_user(credits=credits)
    demo_server.log_in(page, email)
    return email


@pytest.mark.e2e
def test_a_visitor_sees_every_service_with_its_price(demo_server: DemoServer, page: Page) -> None:
    page.goto(demo_server.address("/services/"))

    statistics = page.get_by_role("listitem").filter(has_text="Text statistics")
    keywords = page.get_by_role("listitem").filter(has_text="Keyword extraction")
    expect(page.get_by_role("heading", level=1)).to_have_text("Services")
    expect(statistics).to_contain_text("0.50 credits per run")
    expect(keywords).to_contain_text("From 1 credit")


@pytest.mark.e2e
def test_a_service_that_is_not_configured_is_listed_but_cannot_be_run(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page)
    page.goto(demo_server.address("/services/"))
    completion = page.get_by_role("listitem").filter(has_text="LLM completion")

    expect(completion).to_contain_text("Not configured")
    expect(completion.get_by_role("link", name=re.compile("Try it"))).to_have_count(0)
    page.goto(demo_server.address("/services/llm-completion/"))
    expect(page.get_by_role("status")).to_contain_text("not configured on this site")
    expect(page.get_by_role("button", name="Run", exact=True)).to_have_count(0)


@pytest.mark.e2e
def test_a_visitor_logs_in_to_run_a_service_and_comes_back_to_it(
    demo_server: DemoServer, page: Page
) -> None:
    email = demo_server.create_user(credits="5")
    page.goto(demo_server.address("/services/sentiment/"))

    page.get_by_role("link", name="Log in to run").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a-long-test-password-1")
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(demo_server.address("/services/sentiment/"))
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_visible()


@pytest.mark.e2e
def test_a_run_shows_its_output_its_charge_and_the_new_balance(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page)
    page.goto(demo_server.address("/services/text-statistics/"))
    expect(page.get_by_role("region", name="Your balance")).to_contain_text("50 credits available")

    run_service(page, demo_server, "text-statistics", Text="One two three.")

    expect(page.locator(".output")).to_contain_text('"words": 3')
    expect(page.get_by_role("status")).to_have_text(
        "Charged 0.50 credits. You have 49.50 credits available."
    )


@pytest.mark.e2e
def test_a_form_sent_twice_runs_the_service_once(demo_server: DemoServer, page: Page) -> None:
    signed_in(demo_server, page)
    token = secrets.token_urlsafe(24)

    first = post_run(page, demo_server, "text-statistics", token, text="Twice, once.")
    again = post_run(page, demo_server, "text-statistics", token, text="Twice, once.")

    assert again == first
    page.goto(demo_server.address("/users/runs/"))
    expect(page.locator("tbody tr")).to_have_count(1)
    page.goto(demo_server.address("/users/"))
    expect(page.locator("#available")).to_have_text("49.50 credits")


@pytest.mark.e2e
def test_too_few_credits_say_what_the_run_needs_and_where_to_buy_more(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page, credits=None)
    page.goto(demo_server.address("/services/sentiment/"))
    page.get_by_label("Text", exact=True).fill("A lovely day")

    page.get_by_role("button", name="Run", exact=True).click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("this run needs 1 credit and you have 0 credits available")
    expect(alert.get_by_role("link", name="Buy credits")).to_have_attribute("href", "/pricing/")
    expect(page.get_by_label("Text", exact=True)).to_have_value("A lovely day")
    page.goto(demo_server.address("/users/runs/"))
    expect(page.get_by_text("You have not run any service yet.")).to_be_visible()


@pytest.mark.e2e
def test_invalid_input_shows_the_fields_error_and_charges_nothing(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page)
    page.goto(demo_server.address("/services/keyword-extraction/"))
    page.get_by_label("Text", exact=True).fill("ledger credits ledger")
    page.get_by_label("Keywords").fill("50")

    page.get_by_role("button", name="Run", exact=True).click()

    expect(page.get_by_label("Keywords")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_count_error")).to_have_text(
        "Ensure this value is less than or equal to 20."
    )
    expect(page.get_by_role("region", name="Your balance")).to_contain_text("50 credits available")


@pytest.mark.e2e
def test_an_unknown_service_is_not_found(demo_server: DemoServer, page: Page) -> None:
    response = page.goto(demo_server.address("/services/no-such-service/"))

    assert response is not None
    assert response.status == 404


@pytest.mark.e2e
def test_a_disabled_service_is_not_found(demo_server: DemoServer, page: Page) -> None:
    switch = (
        "from quickscale.services.models import Service; "
        "Service.objects.filter(slug='llm-completion').update(enabled={})"
    )
    demo_server.manage("shell", "-c", switch.format(False))
    try:
        response = page.goto(demo_server.address("/services/llm-completion/"))
        listed = page.goto(demo_server.address("/services/"))
        assert listed is not None
        expect(page.get_by_text("LLM completion")).to_have_count(0)
    finally:
        demo_server.manage("shell", "-c", switch.format(True))

    assert response is not None
    assert response.status == 404


@pytest.mark.e2e
def test_a_background_run_is_queued_then_shows_its_report(
    demo_server: DemoServer, page: Page
) -> None:
    signed_in(demo_server, page)

    with demo_server.reports_held():
        run_service(
            page, demo_server, "document-report", Text="Customers are happy with the fast service."
        )

        expect(page.locator("meta[http-equiv=refresh]")).to_have_attribute(
            "content", re.compile(r"^2;url=\?waited=\d+$")
        )
        expect(page.get_by_role("status")).to_contain_text("refreshes itself every 2 seconds")
    expect(page.get_by_role("status")).to_have_text(
        "Charged 2 credits. You have 48 credits available.", timeout=20_000
    )
    expect(page.locator(".output")).to_contain_text('"label": "positive"')
    expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)


@pytest.mark.e2e
def test_a_failed_run_says_it_was_not_charged(demo_server: DemoServer, page: Page) -> None:
    signed_in(demo_server, page)

    run_service(page, demo_server, "document-report", Text="!!! ???")

    expect(page.get_by_role("status")).to_have_text(
        "Not charged: the run failed. You have 50 credits available.", timeout=20_000
    )
    expect(page.get_by_text("The document has no words to report on.")).to_be_visible()
