"""The example project in German: with ``Accept-Language: de`` its pages (public, the customer's
account, the staff dashboard) and the suite's pages inside it speak German, and an API error has
a German message with its usual code. Without the header everything stays English."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.example.conftest import example_env, run_manage

#: Who asks (``anon``, ``customer`` or ``staff``), the path, and German texts the page shows.
GERMAN_PAGES = [
    ("anon", "/", ["Machen Sie Ihre Django-App an einem Nachmittag", "Kostenlos starten"]),
    ("anon", "/pricing/", ["Preise", "Credit-Pakete"]),
    ("anon", "/about/", ["So funktioniert es", "Unsere Versprechen"]),
    ("anon", "/accounts/login/", ["Anmelden"]),
    ("anon", "/services/", ["Dienste", "Ausprobieren"]),
    (
        "customer",
        "/users/",
        ["Angemeldet als c@example.com.", "Ihre Credits auf einen Blick", "Schnellzugriff"],
    ),
    ("customer", "/users/activity/", ["Jede Änderung Ihres Guthabens", "Abmelden"]),
    ("customer", "/users/runs/", ["Sie haben noch keinen Dienst ausgeführt."]),
    ("customer", "/users/settings/", ["Einstellungen", "Passwort", "Mein Konto schließen"]),
    ("customer", "/users/billing/", ["Meine Abrechnung", "Noch keine Zahlungen."]),
    ("customer", "/users/api-keys/", ["Ihre Schlüssel", "Schlüssel erstellen"]),
    ("customer", "/api/docs/", ["Authentifizierung", "Bedeutung"]),
    ("staff", "/dashboard/", ["Übersicht", "Dieser Monat"]),
    ("staff", "/dashboard/users/", ["Benutzer"]),
    ("staff", "/dashboard/audit/", ["Audit-Log", "Suchen"]),
]

SCRIPT = """
import json
from django.test import Client
from public.demo_catalog import seed_demo_catalog
from users.models import CustomUser
seed_demo_catalog()
language = {language!r}
extra = {{"HTTP_ACCEPT_LANGUAGE": language}} if language else {{}}
clients = {{who: Client(SERVER_NAME="localhost", **extra) for who in ("anon", "customer", "staff")}}
clients["customer"].force_login(CustomUser.objects.create_user("c@example.com", "x"))
clients["staff"].force_login(
    CustomUser.objects.create_user("s@example.com", "x", is_staff=True, is_superuser=True)
)
out = []
for who, path in {requests!r}:
    response = clients[who].get(path, headers={{"Authorization": "Bearer qs_live_x"}}
                                if path.startswith("/api/v1/") else {{}})
    out.append({{"status": response.status_code, "body": response.content.decode(),
                 "language": response.get("Content-Language")}})
print(json.dumps(out))
"""


def fetch_in(tmp_path: Path, language: str, requests: list[tuple[str, str]]) -> list[Any]:
    """The answers to ``requests`` (who, path) in a fresh database, asking for ``language``
    (none: no ``Accept-Language`` header)."""
    env = example_env(tmp_path)
    migrated = run_manage("migrate", "-v", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    script = SCRIPT.format(language=language, requests=requests)
    result = run_manage("shell", "-v", "0", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    answers: list[Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


def test_the_pages_and_api_errors_speak_german_when_asked(tmp_path: Path) -> None:
    requests = [(who, path) for who, path, _ in GERMAN_PAGES]
    requests.append(("anon", "/api/v1/credits/balance"))

    *pages, api_error = fetch_in(tmp_path, "de", requests)

    for (who, path, texts), answer in zip(GERMAN_PAGES, pages, strict=True):
        assert answer["status"] == 200, (who, path, answer["status"])
        assert answer["language"] == "de", path
        assert 'lang="de"' in answer["body"], path
        for text in texts:
            assert text in answer["body"], (path, text)
    assert api_error["status"] == 401
    error = json.loads(api_error["body"])["error"]
    assert error["code"] == "authentication_failed"
    assert error["message"] == "Der API-Schlüssel ist fehlerhaft aufgebaut."


def test_without_accept_language_the_pages_stay_english(tmp_path: Path) -> None:
    home, settings, api_error = fetch_in(
        tmp_path,
        "",
        [("anon", "/"), ("customer", "/users/settings/"), ("anon", "/api/v1/credits/balance")],
    )

    assert home["status"] == 200 and "Start for free" in home["body"]
    assert settings["status"] == 200 and "Close my account" in settings["body"]
    assert json.loads(api_error["body"])["error"]["message"] == "The API key is malformed."
