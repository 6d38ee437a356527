"""The whole example site as a visitor, a customer and a staff member see it after ``manage.py
demo``: every link answers, no page is wider than a phone, nothing comes from another host, and
the main pages pass axe-core and are photographed for people to look at, at 1280 and 390 px.

The customer and the staff member are the demo's own, whose log-ins the demo prints, so every
table and chart has data. Screenshots go to ``screenshots/`` at the top of the repository
(``QUICKSCALE_SCREENSHOTS`` chooses another folder).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

from tests.example.conftest import DemoServer

HERE = Path(__file__).resolve().parent
SCREENSHOTS = Path(os.environ.get("QUICKSCALE_SCREENSHOTS") or HERE.parents[1] / "screenshots")
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
PHONE, DESKTOP = 390, 1280
#: Pages reached at most per crawl, and per shape of address (``/users/runs/N/``), so a long
#: list of runs does not make a long crawl.
CRAWL_LIMIT = 150
PER_SHAPE = 2
#: Addresses a crawl checks but does not follow: Django's admin, downloads, static files.
NOT_FOLLOWED = re.compile(r"^/(admin/|static/)|\.(csv|json)$|/export/")
#: The main pages of each role: photographed, and (those marked) checked with axe-core.
MAIN_PAGES = {
    "visitor": [
        ("/", "landing", True),
        ("/pricing/", "pricing", True),
        ("/about/", "about", False),
        ("/services/", "playground", True),
        ("/accounts/signup/", "sign-up", False),
        ("/accounts/login/", "log-in", False),
    ],
    "customer": [
        ("/users/", "account-home", True),
        ("/users/activity/", "activity", False),
        ("/users/runs/", "runs", False),
        ("/services/", "playground", True),
        ("/services/sentiment/", "service-form", False),
        ("/users/api-keys/", "api-keys", True),
        ("/users/billing/", "billing", True),
        ("/users/settings/", "settings", False),
        ("/pricing/", "pricing", False),
        ("/api/docs/", "api-docs", True),
        ("/dashboard/", "forbidden", False),
    ],
    "staff": [
        ("/dashboard/", "overview", True),
        ("/dashboard/users/", "users", True),
        ("/dashboard/credits/", "credits", False),
        ("/dashboard/services/", "services", False),
        ("/dashboard/payments/", "payments", False),
        ("/dashboard/analytics/", "analytics", True),
        ("/dashboard/audit/", "audit", True),
    ],
}

#: Pages reached from a main page by a link (a run, a user, a payment): where, which link, name.
DETAIL_PAGES = {
    "customer": [("/users/runs/", re.compile(r"Document report"), "run")],
    "staff": [
        ("/dashboard/users/?q=customer%40example.com", "customer@example.com", "user"),
        ("/dashboard/payments/", re.compile(r"\d+ \w+ \d{4}"), "payment"),
    ],
}


@dataclass(frozen=True)
class Role:
    name: str
    email: str | None
    password: str | None


LOGIN_LINE = re.compile(r"^\s+(Staff|Customer):\s+(\S+)\s+password (\S+)$", re.M)


def demo_logins(server: DemoServer) -> dict[str, Role]:
    """The visitor, and the log-ins ``manage.py demo`` printed."""
    printed = server.log.read_text()
    found = LOGIN_LINE.findall(printed)
    assert len(found) == 2, f"the demo printed no log-ins:\n{printed[:3000]}"
    roles = {"visitor": Role("visitor", None, None)}
    for title, email, password in found:
        role = "staff" if title == "Staff" else "customer"
        roles[role] = Role(role, email, password)
    return roles


def shape(path: str) -> str:
    """``/users/runs/17/?before=3`` -> ``/users/runs/N/?before``: pages alike but for ids."""
    parts = urlsplit(path)
    keys = sorted(item.split("=")[0] for item in parts.query.split("&") if item)
    return re.sub(r"\d+", "N", parts.path) + ("?" + "&".join(keys) if keys else "")


@dataclass
class Crawl:
    """What a crawl found: each page's status, widths wider than the viewport, links elsewhere."""

    statuses: dict[str, int] = field(default_factory=dict)
    too_wide: dict[str, int] = field(default_factory=dict)
    foreign: set[str] = field(default_factory=set)


def crawl(page: Page, server: DemoServer, start: list[str]) -> Crawl:
    """Follow every link of the site from ``start``, checking each page it reaches."""
    origin = urlsplit(server.url).netloc
    found = Crawl()
    queue = deque(start)
    shapes: dict[str, int] = {}
    while queue and len(found.statuses) < CRAWL_LIMIT:
        path = queue.popleft()
        if path in found.statuses or shapes.get(shape(path), 0) >= PER_SHAPE:
            continue
        shapes[shape(path)] = shapes.get(shape(path), 0) + 1
        if NOT_FOLLOWED.search(urlsplit(path).path):
            found.statuses[path] = page.request.get(server.address(path)).status
            continue
        response = page.goto(server.address(path))
        assert response is not None
        found.statuses[path] = response.status
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > page.viewport_size["width"]:
            found.too_wide[path] = width
        links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        loaded = page.eval_on_selector_all(
            "link[href], script[src], img[src], iframe[src], form[action]",
            "els => els.map(e => e.href || e.src || e.action)",
        )
        for url in [*links, *loaded]:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc != origin:
                found.foreign.add(url)
        for url in links:
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if parts.netloc == origin and target not in found.statuses:
                queue.append(target)
    return found


@pytest.fixture(scope="module")
def roles(demo_server: DemoServer) -> dict[str, Role]:
    return demo_logins(demo_server)


@pytest.fixture
def as_role(browser: Browser, demo_server: DemoServer) -> Iterator[object]:
    """``as_role(role, width)``: a page signed in as ``role`` in a window ``width`` wide."""
    contexts = []

    def open_page(role: Role, width: int) -> Page:
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        if role.email is not None:
            assert role.password is not None
            demo_server.log_in_with_form(page, role.email, role.password)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core from npm (tests/example/package.json), installed on first use."""
    if not AXE.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(HERE)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return AXE


@pytest.mark.parametrize("role_name", ["visitor", "customer", "staff"])
def test_every_link_answers_and_no_page_is_wider_than_a_phone(
    role_name: str, roles: dict[str, Role], as_role: object, demo_server: DemoServer
) -> None:
    page = as_role(roles[role_name], PHONE)  # type: ignore[operator]
    start = [path for path, _, _ in MAIN_PAGES[role_name]]

    found = crawl(page, demo_server, start)

    broken = {
        path: status
        for path, status in found.statuses.items()
        if status >= 400 and not (role_name == "customer" and path.startswith("/dashboard/"))
    }
    assert len(found.statuses) > len(start)
    assert broken == {}
    assert found.too_wide == {}
    assert found.foreign == set()


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_api_documentation_tables_fit_a_phone(
    language: str, browser: Browser, demo_server: DemoServer
) -> None:
    """At 390 px the tables of parameters, service inputs and error codes become one card per
    row, so no table of the API's documentation is wider than its box (only the curl lines
    scroll)."""
    context = browser.new_context(
        viewport={"width": PHONE, "height": 900}, extra_http_headers={"Accept-Language": language}
    )
    page = context.new_page()
    page.goto(demo_server.address("/api/docs/"))
    widths = page.eval_on_selector_all(
        "table",
        "tables => tables.map(t => [(t.caption || t.tHead).textContent.trim(),"
        " t.scrollWidth, t.parentElement.clientWidth])",
    )
    context.close()
    assert len(widths) > 10
    assert [(caption, wide) for caption, wide, box in widths if wide > box] == []


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize(
    ("role_name", "path", "name"),
    [(role, path, name) for role, pages in MAIN_PAGES.items() for path, name, axe in pages if axe],
)
def test_the_main_pages_have_no_serious_accessibility_violation(
    role_name: str,
    path: str,
    name: str,
    width: int,
    roles: dict[str, Role],
    as_role: object,
    demo_server: DemoServer,
    axe_script: Path,
) -> None:
    page = as_role(roles[role_name], width)  # type: ignore[operator]
    page.goto(demo_server.address(path))
    page.add_script_tag(path=str(axe_script))

    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")

    serious = [
        f"{item['id']} ({item['impact']}): {item['help']} at "
        + ", ".join(str(node["target"]) for node in item["nodes"][:5])
        for item in result["violations"]
        if item["impact"] in ("critical", "serious")
    ]
    assert serious == []


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("role_name", ["visitor", "customer", "staff"])
def test_the_main_pages_are_photographed(
    role_name: str, width: int, roles: dict[str, Role], as_role: object, demo_server: DemoServer
) -> None:
    page = as_role(roles[role_name], width)  # type: ignore[operator]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    written = []

    for path, name, _ in MAIN_PAGES[role_name]:
        page.goto(demo_server.address(path))
        target = SCREENSHOTS / f"{role_name}-{name}-{width}.png"
        page.screenshot(path=str(target), full_page=True)
        written.append(target)
    for path, link, name in DETAIL_PAGES.get(role_name, []):
        page.goto(demo_server.address(path))
        page.locator("main").get_by_role("link", name=link).first.click()
        page.wait_for_load_state()
        target = SCREENSHOTS / f"{role_name}-{name}-{width}.png"
        page.screenshot(path=str(target), full_page=True)
        written.append(target)

    assert all(target.stat().st_size > 10_000 for target in written)
