"""The example project starts from a fresh clone and refuses unsafe production settings."""

from __future__ import annotations

import re
import secrets
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.example.conftest import EXAMPLE_DIR, DemoServer, example_env, run_manage

PRODUCTION = {
    "QUICKSCALE_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "app.example.com",
    "EMAIL_HOST": "smtp.example.com",
}


@pytest.mark.parametrize("cwd", [EXAMPLE_DIR, EXAMPLE_DIR.parent], ids=["project", "repo-root"])
def test_system_checks_pass_without_any_warning(tmp_path: Path, cwd: Path) -> None:
    result = run_manage("check", env=example_env(tmp_path, PYTHONWARNINGS="always"), cwd=cwd)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert result.stderr == ""


def test_migrations_match_the_models(tmp_path: Path) -> None:
    result = run_manage("makemigrations", "--check", "--dry-run", env=example_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_production_settings_pass_the_deployment_checklist(tmp_path: Path) -> None:
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=example_env(tmp_path, **PRODUCTION)
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("variable", ["SECRET_KEY", "ALLOWED_HOSTS", "EMAIL_HOST"])
def test_production_refuses_to_start_without_a_required_variable(
    tmp_path: Path, variable: str
) -> None:
    env = example_env(tmp_path, **{**PRODUCTION, variable: ""})

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"The {variable} environment variable must be set" in result.stderr


def test_production_keeps_debug_off_even_when_asked(tmp_path: Path) -> None:
    env = example_env(tmp_path, **PRODUCTION, DEBUG="true")

    result = run_manage(
        "shell", "-v", "0", "-c", "from django.conf import settings; print(settings.DEBUG)", env=env
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_misspelt_mode_is_an_error_not_development(tmp_path: Path) -> None:
    result = run_manage("check", env=example_env(tmp_path, QUICKSCALE_ENV="prod"))

    assert result.returncode != 0
    assert "QUICKSCALE_ENV must be 'development' or 'production', not 'prod'" in result.stderr


def test_demo_migrates_then_prints_the_address(demo_server: DemoServer) -> None:
    output = demo_server.log.read_text()

    assert "Applying users.0001_initial... OK" in output
    banner = rf"Starting (WSGI )?development server at {re.escape(demo_server.url)}"
    assert re.search(banner, output)


def test_demo_serves_the_home_page(demo_server: DemoServer) -> None:
    with urllib.request.urlopen(demo_server.url, timeout=10) as response:
        status, body = response.status, response.read().decode()

    assert status == 200
    assert "QuickScale" in body


def test_demo_serves_the_stylesheet(demo_server: DemoServer) -> None:
    with urllib.request.urlopen(f"{demo_server.url}static/css/site.css", timeout=10) as response:
        status, content_type = response.status, response.headers["Content-Type"]

    assert status == 200
    assert content_type.startswith("text/css")


def test_email_addresses_are_stored_in_lower_case(demo_server: DemoServer) -> None:
    result = run_manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from users.models import CustomUser; "
        "print(CustomUser.objects.create_user('Lin@Example.COM', 'lower-case-please').email)",
        env=demo_server.env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lin@example.com"


@pytest.mark.e2e
def test_visitor_signs_up_with_email_and_is_signed_in(
    demo_server: DemoServer, page: Page, tmp_path: Path
) -> None:
    page.goto(demo_server.url)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.screenshot(path=tmp_path / "home.png", full_page=True)

    page.get_by_role("link", name="Sign up", exact=True).click()
    page.locator("input[name=email]").fill("grace@example.com")
    page.locator("input[name=password1]").fill("correct-horse-battery")
    page.locator("input[name=password2]").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign Up").click()

    expect(page.locator(".nav-user")).to_have_text("grace@example.com")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


@pytest.mark.e2e
def test_user_created_with_only_an_email_logs_in(demo_server: DemoServer, page: Page) -> None:
    created = run_manage(
        "shell",
        "-c",
        "from users.models import CustomUser; "
        "CustomUser.objects.create_user('ada@example.com', 'analytical-engine-1843')",
        env=demo_server.env,
    )
    assert created.returncode == 0, created.stderr

    page.goto(demo_server.url)
    page.get_by_role("link", name="Log in", exact=True).first.click()
    page.locator("input[name=login]").fill("ada@example.com")
    page.locator("input[name=password]").fill("analytical-engine-1843")
    page.get_by_role("button", name="Sign In").click()

    expect(page.locator(".nav-user")).to_have_text("ada@example.com")
