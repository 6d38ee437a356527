"""The example project starts from a fresh clone and refuses unsafe production settings."""

from __future__ import annotations

import re
import secrets
import urllib.request
from pathlib import Path

import pytest

from tests.example.conftest import EXAMPLE_DIR, DemoServer, example_env, run_manage

PRODUCTION = {
    "QUICKSCALE_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "app.example.com",
    "EMAIL_HOST": "smtp.example.com",
    "API_KEY_PEPPER": secrets.token_urlsafe(48),
}
#: A deployment as docs/deployment.md describes it: PostgreSQL and a shared Redis cache (no
#: connection is made by `check`).
DEPLOYED = {
    **PRODUCTION,
    "DATABASE_URL": "postgres://quickscale@db.example.com:5432/quickscale",
    "REDIS_URL": "redis://cache.example.com:6379/0",
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
        "check", "--deploy", "--fail-level", "WARNING", env=example_env(tmp_path, **DEPLOYED)
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_production_with_a_per_process_cache_is_warned_about(tmp_path: Path) -> None:
    env = example_env(tmp_path, **{**DEPLOYED, "REDIS_URL": ""})

    result = run_manage("check", "--deploy", env=env)

    assert "quickscale_apikeys.W001" in result.stderr


def test_production_on_sqlite_is_warned_about(tmp_path: Path) -> None:
    env = example_env(tmp_path, **{**DEPLOYED, "DATABASE_URL": f"sqlite:///{tmp_path}/db"})

    result = run_manage("check", "--deploy", env=env)

    assert "quickscale_core.W001" in result.stderr


def test_production_sends_no_mail_without_an_smtp_server_and_asks_no_one_to_confirm(
    tmp_path: Path,
) -> None:
    env = example_env(tmp_path, **{**DEPLOYED, "EMAIL_HOST": ""})

    result = run_manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings; from django.core.mail import get_connection; "
        "print(type(get_connection()).__module__, settings.ACCOUNT_EMAIL_VERIFICATION)",
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.mail.backends.console", "none"]


@pytest.mark.parametrize("variable", ["SECRET_KEY", "ALLOWED_HOSTS", "API_KEY_PEPPER"])
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


SHOW_SETTINGS = (
    "from django.conf import settings; "
    "print(settings.DEBUG, settings.SECURE_HSTS_SECONDS, settings.ALLOWED_HOSTS, "
    "settings.SITE_NAME)"
)


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false (1/0, yes/no, on/off), not 'maybe'."),
        ("DEBUG", "t", "DEBUG must be true or false (1/0, yes/no, on/off), not 't'."),
        ("EMAIL_PORT", "587a", "EMAIL_PORT must be an integer, not '587a'."),
        ("SECURE_HSTS_SECONDS", "1.5", "SECURE_HSTS_SECONDS must be an integer, not '1.5'."),
    ],
)
def test_a_value_that_is_not_clearly_valid_stops_start_up(
    tmp_path: Path, variable: str, value: str, error: str
) -> None:
    result = run_manage("check", env=example_env(tmp_path, **{variable: value}))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert error in result.stderr


def test_blank_values_count_as_unset_and_values_are_stripped(tmp_path: Path) -> None:
    env = example_env(
        tmp_path,
        DEBUG=" ",
        SECURE_HSTS_SECONDS="",
        ALLOWED_HOSTS=" a.example.com , ,b.example.com ",
        SITE_NAME="  Acme ",
    )

    result = run_manage("shell", "-v", "0", "-c", SHOW_SETTINGS, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True 0 ['a.example.com', 'b.example.com'] Acme"


def test_flags_take_yes_no_on_off_and_one_zero_in_any_case(tmp_path: Path) -> None:
    env = example_env(tmp_path, DEBUG="OFF", SECURE_HSTS_SECONDS="60")

    result = run_manage("shell", "-v", "0", "-c", SHOW_SETTINGS, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["False", "60"]


def test_production_takes_a_list_of_only_commas_as_missing(tmp_path: Path) -> None:
    result = run_manage("check", env=example_env(tmp_path, **{**PRODUCTION, "ALLOWED_HOSTS": ","}))

    assert result.returncode != 0
    assert "The ALLOWED_HOSTS environment variable must be set" in result.stderr


def test_demo_adds_its_data_then_prints_the_log_ins_and_the_address(
    demo_server: DemoServer,
) -> None:
    output = demo_server.log.read_text()

    assert "Added the demo data: 30 days of history" in output
    assert re.search(r"Staff: +staff@example.com +password \S+", output)
    assert re.search(r"Customer: +customer@example.com +password \S+", output)
    assert re.search(r"API key \(shown this once\): qs_live_\S+", output)
    banner = rf"Starting (WSGI )?development server at {re.escape(demo_server.url)}"
    assert re.search(banner, output)


COUNTS = (
    "from django.apps import apps; "
    "print([apps.get_model(m).objects.count() for m in ("
    "'users.CustomUser', 'quickscale_credits.CreditTransaction', 'quickscale_services.ServiceRun', "
    "'quickscale_billing.Payment', 'quickscale_billing.Refund', 'quickscale_apikeys.APIKey')])"
)


def test_running_the_demo_again_changes_nothing(demo_server: DemoServer) -> None:
    before = demo_server.manage("shell", "-v", "0", "-c", COUNTS)

    again = demo_server.manage("demo", "--no-serve")

    assert "The demo data exists already; nothing was changed." in again
    assert "shown this once" not in again
    assert demo_server.manage("shell", "-v", "0", "-c", COUNTS) == before


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


def test_development_runs_with_a_single_allowed_host(tmp_path: Path) -> None:
    result = run_manage("check", env=example_env(tmp_path, ALLOWED_HOSTS="myapp.local"))

    assert result.returncode == 0, result.stderr
