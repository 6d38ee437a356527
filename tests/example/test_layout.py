"""The site's one layout: its navigation, its areas and its error pages."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.example.conftest import DemoServer


def test_a_signed_in_customer_finds_their_account_in_the_navigation(
    demo_server: DemoServer, page: Page
) -> None:
    email = demo_server.create_user()
    demo_server.log_in(page, email)
    page.goto(demo_server.url)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()

    expect(page).to_have_url(demo_server.address("/users/"))
    expect(page.get_by_role("navigation", name="Your account")).to_be_visible()
