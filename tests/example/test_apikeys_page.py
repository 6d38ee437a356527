"""The API keys page of the example project, in a real browser against the demo server."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from quickscale.apikeys.tokens import TOKEN_PATTERN
from tests.example.conftest import DemoServer


@pytest.mark.e2e
def test_a_new_user_creates_a_key_with_two_scopes_and_calls_the_api_with_it(
    demo_server: DemoServer, page: Page, tmp_path: Path
) -> None:
    page.goto(demo_server.url)
    page.get_by_role("link", name="Sign up", exact=True).click()
    page.locator("input[name=email]").fill("keys@example.com")
    page.locator("input[name=password1]").fill("correct-horse-battery")
    page.locator("input[name=password2]").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign Up").click()

    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.get_by_text("You have no API keys yet.")).to_be_visible()
    page.get_by_label("Name").fill("Reporting script")
    page.get_by_role("checkbox", name=re.compile(r"credits:read")).check()
    page.get_by_role("checkbox", name=re.compile(r"usage:read")).check()
    page.screenshot(path=tmp_path / "keys-form.png", full_page=True)
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your new API key")
    expect(page.get_by_role("alert")).to_contain_text("Copy this key now.")
    token = page.get_by_role("textbox", name="Your API key").input_value()
    assert re.fullmatch(TOKEN_PATTERN, token)
    page.screenshot(path=tmp_path / "keys-token.png", full_page=True)

    page.get_by_role("link", name="Done: back to my keys").click()
    row = page.get_by_role("row", name=re.compile("Reporting script"))
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("credits:read")
    expect(row).to_contain_text("usage:read")
    assert token not in page.content()
    page.screenshot(path=tmp_path / "keys.png", full_page=True)

    balance = urllib.request.Request(
        demo_server.url + "api/v1/credits/balance",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(balance, timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {
            "balance": "0.00",
            "available": "0.00",
            "held": "0.00",
            "grants": [],
        }
    runs = urllib.request.Request(
        demo_server.url + "api/v1/runs", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(runs, timeout=10)
    refused.value.close()
    assert refused.value.code == 403  # the key has no runs:read scope
