"""The error pages as a deployed site shows them (``DEBUG`` off): in the site's layout, saying
what happened in plain words, with a way on; and photographed for people to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.example.conftest import DemoServer, fetch
from tests.example.test_site import DESKTOP, PHONE, SCREENSHOTS

DEPLOYED = {"DEBUG": "false"}
#: Each error, the request that causes it, and what its page says.
ERRORS = [
    ("404", "ANON GET /no-such-page/", 404, "There is no page here"),
    ("403", "GET /dashboard/", 403, "You do not have access to this page"),
    ("403-csrf", "POST /users/settings/", 403, "This form could not be sent"),
    ("400", "GET /users/activity/?before=not-a-cursor", 400, "could not be understood"),
    ("500", "500", 500, "Something went wrong on our side"),
    ("503", "503", 503, "We will be right back"),
]


@pytest.fixture(scope="module")
def error_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    answers = fetch(
        tmp_path_factory.mktemp("errors"),
        *(request for _, request, _, _ in ERRORS),
        csrf_checks=True,
        **DEPLOYED,
    )
    return {name: answer for (name, *_), answer in zip(ERRORS, answers, strict=True)}


@pytest.mark.parametrize(("name", "request_line", "status", "says"), ERRORS)
def test_an_error_page_is_in_the_sites_layout_and_says_what_happened(
    error_pages: dict[str, dict[str, object]],
    name: str,
    request_line: str,
    status: int,
    says: str,
) -> None:
    page = error_pages[name]
    body = str(page["body"])

    assert page["status"] == status
    assert says in body
    assert "<title>" in body and " · QuickScale</title>" in body
    assert 'class="site-header"' in body and "</span>QuickScale" in body
    assert "Go to the home page" in body
    assert "Traceback" not in body and "DEBUG" not in body


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_the_error_pages_are_photographed(
    error_pages: dict[str, dict[str, object]],
    width: int,
    browser: Browser,
    demo_server: DemoServer,
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    for name, *_ in ERRORS:
        # The page as the deployed site sent it, its stylesheets from the demo server.
        page.goto(demo_server.url)
        page.set_content(str(error_pages[name]["body"]))
        target = SCREENSHOTS / f"error-{name}-{width}.png"
        page.screenshot(path=str(target), full_page=True)
        written.append(target)
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    context.close()
    assert all(target.stat().st_size > 10_000 for target in written)
