"""What nobody may do on the example site: change anything without logging in or without the
form's CSRF token, or see and touch another customer's runs, keys, payments or balance.

The addresses use the real ids of the demo customer's things (their runs, keys, payments and
plan), and the other customer is a new user with nothing of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.example.conftest import DemoServer

IDS = (
    "import json; from users.models import CustomUser as U; "
    "from quickscale.services.models import ServiceRun; "
    "from quickscale.apikeys.models import APIKey; "
    "from quickscale.billing.models import Payment, Subscription; "
    "from quickscale.services.models import Service; "
    "c = U.objects.get(email='customer@example.com'); "
    "print(json.dumps({'user': c.pk, "
    "'run': ServiceRun.objects.filter(user=c).latest('pk').pk, "
    "'key': APIKey.objects.filter(owner=c).latest('pk').key_id, "
    "'key_pk': APIKey.objects.filter(owner=c).latest('pk').pk, "
    "'payment': Payment.objects.filter(user=c, kind='pack').latest('pk').pk, "
    "'session': Payment.objects.filter(user=c, kind='pack').latest('pk').checkout_session_id, "
    "'subscription': Subscription.objects.get(user=c).stripe_id, "
    "'service': Service.objects.get(slug='sentiment').pk}))"
)

#: Every address that changes something, with ``{name}`` for the demo customer's ids.
STATE_CHANGING = [
    "/users/settings/",
    "/users/delete/",
    "/services/sentiment/",
    "/users/api-keys/create/",
    "/users/api-keys/{key}/roll/",
    "/users/api-keys/{key}/revoke/",
    "/stripe/checkout/",
    "/stripe/portal/",
    "/stripe/plan/change/",
    "/stripe/plan/cancel/",
    "/stripe/plan/resume/",
    "/stripe/sandbox/checkout/{session}/",
    "/stripe/sandbox/subscriptions/{subscription}/advance/",
    "/dashboard/users/{user}/grant/",
    "/dashboard/users/{user}/deduct/",
    "/dashboard/users/{user}/keys/{key_pk}/revoke/",
    "/dashboard/services/{service}/price/",
    "/dashboard/services/{service}/switch/",
    "/dashboard/payments/{payment}/refund/",
]
#: What must stay as it is however the requests above are answered.
STATE = (
    "import json; from users.models import CustomUser as U; "
    "from quickscale.credits import ledger; from quickscale.apikeys.models import APIKey; "
    "from quickscale.billing.models import Refund, Subscription; "
    "from quickscale.services.models import Service, ServiceRun; "
    "c = U.objects.get(email='customer@example.com'); "
    "print(json.dumps([str(ledger.balance(c)), c.is_active, c.first_name, "
    "[str(k.revoked_at) for k in APIKey.objects.filter(owner=c)], Refund.objects.count(), "
    "[(s.status, s.cancel_at_period_end, str(s.current_period_end)) "
    "for s in Subscription.objects.filter(user=c)], "
    "[(s.enabled, str(s.price_override)) for s in Service.objects.all()], "
    "ServiceRun.objects.count()]))"
)


@pytest.fixture(scope="module")
def ids(demo_server: DemoServer) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(demo_server.manage("shell", "-v", "0", "-c", IDS))
    return loaded


def addresses(ids: dict[str, object]) -> list[str]:
    return [path.format(**ids) for path in STATE_CHANGING]


@pytest.fixture
def visitor(browser: Browser, demo_server: DemoServer) -> Iterator[Page]:
    """A visitor who has seen a page, so has a CSRF token: what refuses them is the login."""
    context = browser.new_context(base_url=demo_server.url)
    page = context.new_page()
    page.goto("/accounts/login/")
    yield page
    context.close()


def signed_in(browser: Browser, server: DemoServer, email: str) -> Page:
    page = browser.new_context(base_url=server.url).new_page()
    server.log_in(page, email)
    page.goto(server.url)
    return page


def test_every_state_changing_address_sends_a_visitor_to_log_in_and_changes_nothing(
    demo_server: DemoServer, ids: dict[str, object], visitor: Page
) -> None:
    before = demo_server.manage("shell", "-v", "0", "-c", STATE)

    answers = {
        path: visitor.request.post(
            path,
            headers=csrf(visitor),
            form={"confirm": "customer@example.com"},
            max_redirects=0,
        )
        for path in addresses(ids)
    }

    refused = {
        path: answer.status
        for path, answer in answers.items()
        if answer.status != 302 or "/accounts/login/" not in answer.headers.get("location", "")
    }
    assert refused == {}
    assert demo_server.manage("shell", "-v", "0", "-c", STATE) == before


@pytest.mark.parametrize("who", ["customer", "staff"])
def test_every_state_changing_address_refuses_a_form_without_its_csrf_token(
    demo_server: DemoServer, ids: dict[str, object], browser: Browser, who: str
) -> None:
    page = signed_in(browser, demo_server, demo_server.create_user(staff=who == "staff"))
    before = demo_server.manage("shell", "-v", "0", "-c", STATE)

    answers = {
        path: page.request.post(path, form={"amount": "5", "reason": "x"}, max_redirects=0)
        for path in addresses(ids)
    }

    accepted = {
        path: answer.status
        for path, answer in answers.items()
        if answer.status != 403 or "This form could not be sent" not in answer.text()
    }
    assert accepted == {}
    assert demo_server.manage("shell", "-v", "0", "-c", STATE) == before
    page.context.close()


def csrf(page: Page) -> dict[str, str]:
    """The header a form of ``page``'s session sends its CSRF token in."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token}


def test_another_customer_finds_none_of_the_demo_customers_things(
    demo_server: DemoServer, ids: dict[str, object], browser: Browser
) -> None:
    page = signed_in(browser, demo_server, demo_server.create_user())

    run = page.request.get(f"/users/runs/{ids['run']}/")
    session = page.request.get(f"/stripe/sandbox/checkout/{ids['session']}/")
    success = page.request.get(f"/stripe/checkout/success/?session_id={ids['session']}")
    billing = page.request.get("/users/billing/").text()
    home = page.request.get("/users/").text()

    assert (run.status, session.status, success.status) == (404, 404, 404)
    assert "Growth pack" not in billing and "No payments yet" in billing
    assert re.search(r"0 credits", home)
    page.context.close()


def test_another_customer_cannot_revoke_roll_or_pay_with_the_demo_customers_things(
    demo_server: DemoServer, ids: dict[str, object], browser: Browser
) -> None:
    page = signed_in(browser, demo_server, demo_server.create_user())
    before = demo_server.manage("shell", "-v", "0", "-c", STATE)

    answers = [
        page.request.post(path.format(**ids), headers=csrf(page), max_redirects=0)
        for path in (
            "/users/api-keys/{key}/revoke/",
            "/users/api-keys/{key}/roll/",
            "/stripe/sandbox/checkout/{session}/",
        )
    ]

    assert [answer.status for answer in answers] == [404, 404, 404]
    assert demo_server.manage("shell", "-v", "0", "-c", STATE) == before
    page.context.close()


def test_a_customer_gets_the_403_page_on_the_staffs_actions(
    demo_server: DemoServer, ids: dict[str, object], browser: Browser
) -> None:
    page = signed_in(browser, demo_server, demo_server.create_user(credits="5"))
    before = demo_server.manage("shell", "-v", "0", "-c", STATE)
    staff_actions = [path for path in addresses(ids) if path.startswith("/dashboard/")]
    staff_actions.append(f"/stripe/sandbox/subscriptions/{ids['subscription']}/advance/")

    answers = {
        path: page.request.post(
            path, headers=csrf(page), form={"amount": "5", "reason": "x"}, max_redirects=0
        )
        for path in staff_actions
    }

    assert {path: answer.status for path, answer in answers.items() if answer.status != 403} == {}
    assert demo_server.manage("shell", "-v", "0", "-c", STATE) == before
    page.context.close()
