"""Translations: every app's German catalogue is complete and compiled, ``makemessages`` finds
nothing new to translate, and the pages and the API answer in German when asked to."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import polib
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from quickscale.apikeys import keys
from quickscale.audit.log import record
from quickscale.credits import ledger
from quickscale.credits.models import CreditAccount
from tests.billing.conftest import Shop, fake, shop  # noqa: F401 (fixtures)
from tests.billing.fake_stripe import FakeStripe

ROOT = Path(__file__).resolve().parents[1]
APPS = ["core", "credits", "services", "apikeys", "billing", "audit", "api"]
#: Where each catalogue's sources are (makemessages runs there) and the catalogue itself.
SOURCES = {app: ROOT / "src" / "quickscale" / app for app in APPS} | {
    "example_project": ROOT / "example_project"
}
GERMAN = "de"
#: ``%(name)s`` placeholders (python-format) and ``{name}`` ones (python-brace-format).
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|\{[a-z_]+\}")


def catalogue(source: Path) -> Path:
    return source / "locale" / GERMAN / "LC_MESSAGES" / "django.po"


def entry_key(entry: polib.POEntry | polib.MOEntry) -> tuple[str | None, str]:
    return (entry.msgctxt or None, entry.msgid)


def translations(entries: Any) -> dict[tuple[str | None, str], Any]:
    """What each entry translates to: its ``msgstr``, or its plural forms in order."""
    return {
        entry_key(entry): (
            tuple(entry.msgstr_plural[n] for n in sorted(entry.msgstr_plural))
            if entry.msgid_plural
            else entry.msgstr
        )
        for entry in entries
        if entry.msgid
    }


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_german_catalogue_is_complete(name: str) -> None:
    po = polib.pofile(str(catalogue(SOURCES[name])))

    assert po.metadata["Language"] == GERMAN
    assert po.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert [e.msgid for e in po.obsolete_entries()] == []
    assert len(po.translated_entries()) > 0
    for entry in po:
        for translated in [entry.msgstr, *entry.msgstr_plural.values()]:
            if translated:
                wanted = set(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
                wanted |= set(PLACEHOLDER.findall(entry.msgid))
                found = set(PLACEHOLDER.findall(translated))
                assert found <= wanted, (entry.msgid, translated)
        if not entry.msgid_plural:
            assert set(PLACEHOLDER.findall(entry.msgstr)) == set(
                PLACEHOLDER.findall(entry.msgid)
            ), entry.msgid


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_compiled_catalogue_matches_its_source(name: str) -> None:
    po_path = catalogue(SOURCES[name])
    po = polib.pofile(str(po_path))
    mo = polib.mofile(str(po_path.with_suffix(".mo")))

    assert translations(mo) == translations(po.translated_entries())
    # What msgfmt would make of the .po today is what is committed.
    rebuilt = polib.mofile(po.to_binary())
    assert translations(rebuilt) == translations(mo)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_makemessages_finds_nothing_new_to_translate(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A string marked for translation but missing from the catalogue fails here: the sources
    are copied, ``makemessages`` updates the copy's catalogue, and it must hold no msgid the
    committed catalogue lacks."""
    if shutil.which("xgettext") is None:
        # A platform skip: xgettext is a system program, not a Python package.
        pytest.skip("makemessages needs GNU gettext's xgettext (apt-get install gettext)")
    copy = tmp_path / name
    shutil.copytree(
        SOURCES[name],
        copy,
        ignore=shutil.ignore_patterns(
            "__pycache__", "staticfiles", "node_modules", "*.sqlite3", "*.mo"
        ),
    )
    monkeypatch.chdir(copy)

    call_command("makemessages", locale=[GERMAN], no_obsolete=True, verbosity=0)

    committed = {entry_key(e) for e in polib.pofile(str(catalogue(SOURCES[name])))}
    found = {entry_key(e) for e in polib.pofile(str(catalogue(copy)))}
    assert found - committed == set()


# -- pages and the API in German ---------------------------------------------------------------


@pytest.fixture
def german(client: Client) -> Client:
    """A client whose browser asks for German."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de"
    return client


def page(client: Client, url: str, *expected: str) -> str:
    """The page at ``url``, which must answer 200 and show every ``expected`` text."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    body = response.content.decode()
    for text in expected:
        assert text in body, (url, text)
    assert response["Content-Language"] == "de"
    return body


@pytest.mark.django_db
def test_the_api_keys_page_is_in_german(german: Client, user: Any) -> None:
    german.force_login(user)
    keys.create_key(user, "CI", scopes=["credits:read"])

    body = page(german, reverse("quickscale_apikeys:list"), "Ihre Schlüssel", "Schlüssel erstellen")
    assert 'lang="de"' in body


@pytest.mark.django_db
def test_the_api_docs_page_is_in_german(german: Client) -> None:
    page(
        german,
        reverse("quickscale_api:docs"),
        "Authentifizierung",
        "Maschinenlesbar:",
        "Bedeutung",
        "(erforderlich)",
        "Fehlercodes",
        "mindestens 1 Zeichen",
    )


@pytest.mark.django_db
def test_the_audit_page_is_in_german(german: Client, admin_user: Any) -> None:
    german.force_login(admin_user)
    record("apikey.created", actor=admin_user)

    page(german, reverse("quickscale_audit:events"), "Audit-Log", "Suchen", "Ereignisse")


@pytest.mark.django_db
def test_the_billing_pages_are_in_german(
    german: Client,
    user: Any,
    fake: FakeStripe,  # noqa: F811
    shop: Shop,  # noqa: F811
) -> None:
    page(german, reverse("quickscale_billing:pricing"), "Preise", "Tarife", "Zum Kaufen anmelden")
    german.force_login(user)
    page(german, reverse("quickscale_billing:account"), "Meine Abrechnung", "Noch keine Zahlungen.")


@pytest.mark.django_db
def test_the_admin_pages_of_the_suite_are_in_german(german: Client, admin_user: Any) -> None:
    german.force_login(admin_user)
    owner = type(admin_user).objects.create_user(username="owner", email="owner@example.com")
    ledger.grant(owner, 10, source="promotion")
    account = CreditAccount.objects.get(owner=owner)

    page(german, reverse("admin:index"), "QuickScale-Guthaben", "QuickScale-Dienste")
    expected = {
        "quickscale_credits_creditaccount": "Guthabenkonten",
        "quickscale_credits_credittransaction": "Guthabenbuchungen",
        "quickscale_credits_creditgrant": "Gutschriften",
        "quickscale_services_service": "Dienste",
        "quickscale_services_servicerun": "Dienstläufe",
        "quickscale_apikeys_apikey": "API-Schlüssel",
        "quickscale_billing_payment": "Zahlungen",
        "quickscale_billing_subscription": "Abonnements",
        "quickscale_audit_auditevent": "Audit-Ereignisse",
    }
    for model, title in expected.items():
        page(german, reverse(f"admin:{model}_changelist"), title)
    page(
        german,
        reverse("admin:quickscale_credits_creditaccount_adjust", args=[account.pk]),
        "Guthaben anpassen",
        "Betrag",
    )


@pytest.mark.django_db
def test_an_api_error_has_a_german_message_and_the_same_code(german: Client, user: Any) -> None:
    _, token = keys.create_key(user, "CI", scopes=["credits:read"])
    url = reverse("quickscale_api:transactions")

    english = (
        Client()
        .get(url, {"limit": "0"}, headers={"Authorization": f"Bearer {token}"})
        .json()["error"]
    )
    german_error = german.get(
        url, {"limit": "0"}, headers={"Authorization": f"Bearer {token}"}
    ).json()["error"]

    assert english["code"] == german_error["code"] == "invalid_parameter"
    assert english["message"].startswith("limit must be an integer from 1 to")
    assert german_error["message"].startswith("limit muss eine ganze Zahl von 1 bis")
    assert german_error["details"] == english["details"]


@pytest.mark.django_db
def test_an_unauthenticated_api_request_is_refused_in_german(german: Client) -> None:
    response = german.get(
        reverse("quickscale_api:balance"), headers={"Authorization": "Bearer qs_live_nonsense"}
    )

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "authentication_failed"
    assert error["message"] == "Der API-Schlüssel ist fehlerhaft aufgebaut."


def test_without_a_language_asked_for_the_site_speaks_english(client: Client, db: None) -> None:
    response = client.get(reverse("quickscale_api:docs"))

    assert response.status_code == 200
    assert "Authentication" in response.content.decode()
    assert response["Content-Language"] == "en"
