"""The keys page: people create, roll and revoke their own keys, and see each token once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from quickscale.apikeys import forms, tokens
from quickscale.apikeys.exceptions import AuthenticationFailed
from quickscale.apikeys.keys import authenticate, create_key
from quickscale.apikeys.models import APIKey

LIST = reverse("quickscale_apikeys:list")
CREATE = reverse("quickscale_apikeys:create")


def roll_url(key: APIKey) -> str:
    return reverse("quickscale_apikeys:roll", args=[key.key_id])


def revoke_url(key: APIKey) -> str:
    return reverse("quickscale_apikeys:revoke", args=[key.key_id])


def tokens_in(response: Any) -> list[str]:
    return [match[0] for match in re.finditer(tokens.TOKEN_PATTERN, response.content.decode())]


def form_id(response: Any) -> str:
    match = re.search(r'name="form_id" value="([^"]+)"', response.content.decode())
    assert match is not None, "the create form has no form_id"
    return match[1]


def csrf_token(response: Any) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match is not None, "the page has no CSRF token"
    return match[1]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def create(signed_in: Client) -> Callable[..., Any]:
    """Submit the create form as the page renders it, with ``fields`` changed."""

    def submit(**fields: Any) -> Any:
        data = {
            "name": "CI",
            "scopes": ["credits:read", "services:write"],
            "environment": "live",
            "expires_in_days": "",
            "form_id": form_id(signed_in.get(LIST)),
            **fields,
        }
        return signed_in.post(CREATE, data)

    return submit


# -- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["list", "roll", "revoke"])
def test_every_page_sends_anonymous_visitors_to_log_in(
    client: Client, user: Any, name: str
) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])
    url = LIST if name == "list" else reverse(f"quickscale_apikeys:{name}", args=[key.key_id])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_list_shows_ones_own_keys_masked_and_nobody_elses(
    signed_in: Client, user: Any, make_user: Callable[..., Any]
) -> None:
    mine, my_token = create_key(user, "Mine", scopes=["credits:read"])
    theirs, _ = create_key(make_user(), "Theirs", scopes=["credits:read"])

    response = signed_in.get(LIST)

    assert response.status_code == 200
    body = response.content.decode()
    assert mine.masked in body and "Mine" in body
    assert theirs.key_id not in body and "Theirs" not in body
    assert tokens_in(response) == []
    assert my_token.split(".")[1] not in body


def test_the_list_tells_active_replaced_expired_and_revoked_keys_apart(
    signed_in: Client, user: Any
) -> None:
    active, _ = create_key(user, "Active", scopes=["credits:read"])
    rolled, _ = create_key(user, "Rolled", scopes=["credits:read"])
    signed_in.post(roll_url(rolled))
    revoked, _ = create_key(user, "Revoked", scopes=["credits:read"])
    signed_in.post(revoke_url(revoked))
    expired, _ = create_key(user, "Expired", scopes=["credits:read"])
    APIKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))

    rows = {row.key.pk: row for row in signed_in.get(LIST).context["rows"]}

    assert rows[active.pk].status == "active"
    assert rows[rolled.pk].status == "replaced"
    assert rows[revoked.pk].status == "revoked"
    assert rows[expired.pk].status == "expired"
    assert [rows[k.pk].can_roll for k in (active, rolled, revoked, expired)] == [
        True,
        False,
        False,
        False,
    ]
    assert [rows[k.pk].can_revoke for k in (active, rolled, revoked, expired)] == [
        True,
        True,
        False,
        False,
    ]


def test_pages_are_never_cached(signed_in: Client) -> None:
    response = signed_in.get(LIST)

    assert "no-store" in response["Cache-Control"]


def test_a_request_authenticated_by_a_key_cannot_manage_keys(client: Client, user: Any) -> None:
    _, token = create_key(user, "Narrow", scopes=["credits:read"])

    with override_settings(QUICKSCALE_APIKEYS_PATH_PREFIXES=["/keys/"]):
        listed = client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")
        created = client.post(
            CREATE,
            {"name": "Wide", "scopes": ["services:write"], "environment": "live", "form_id": "x"},
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert (listed.status_code, created.status_code) == (403, 403)
    assert APIKey.objects.filter(owner=user).count() == 1


# -- create -------------------------------------------------------------------------------


def test_creating_a_key_shows_its_token_once(
    signed_in: Client, create: Callable[..., Any], user: Any
) -> None:
    response = create()

    assert response.status_code == 200
    [token] = tokens_in(response)
    assert "no-store" in response["Cache-Control"]
    assert authenticate(token).owner == user
    assert token not in signed_in.get(LIST).content.decode()


def test_a_created_key_has_the_name_scopes_environment_and_expiry_chosen(
    create: Callable[..., Any], user: Any
) -> None:
    before = timezone.now()

    [token] = tokens_in(
        create(
            name="Reports",
            scopes=["usage:read", "runs:read"],
            environment="test",
            expires_in_days="90",
        )
    )

    key = APIKey.objects.get(owner=user)
    assert token.startswith(f"qs_test_{key.key_id}.")
    assert (key.name, key.scopes, key.environment) == (
        "Reports",
        ["runs:read", "usage:read"],
        "test",
    )
    assert key.created_by == user
    assert key.expires_at is not None
    assert before + timedelta(days=90) <= key.expires_at <= timezone.now() + timedelta(days=90)


def test_a_key_without_expiry_never_expires(create: Callable[..., Any], user: Any) -> None:
    create(expires_in_days="")

    assert APIKey.objects.get(owner=user).expires_at is None


def test_the_token_is_stored_nowhere(create: Callable[..., Any], user: Any) -> None:
    [token] = tokens_in(create())
    secret = tokens.parse(token, "qs").secret  # type: ignore[union-attr]

    stored = APIKey.objects.filter(owner=user).values().get()
    sessions = [session.get_decoded() for session in Session.objects.all()]

    assert all(secret not in str(value) for value in stored.values())
    assert all(secret not in str(data) for data in sessions)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"scopes": []}, "scopes", "Choose at least one scope"),
        ({"scopes": ["credits:write"]}, "scopes", "not one of the available choices"),
        ({"environment": "prod"}, "environment", "not one of the available choices"),
        ({"expires_in_days": "7"}, "expires_in_days", "not one of the available choices"),
    ],
)
def test_an_invalid_form_is_shown_again_with_the_error_and_creates_nothing(
    create: Callable[..., Any], user: Any, fields: dict[str, Any], field: str, message: str
) -> None:
    response = create(**fields)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert tokens_in(response) == []
    assert not APIKey.objects.filter(owner=user).exists()


def test_submitting_the_same_form_twice_creates_one_key(signed_in: Client, user: Any) -> None:
    data = {
        "name": "CI",
        "scopes": ["credits:read"],
        "environment": "live",
        "form_id": form_id(signed_in.get(LIST)),
    }
    first = signed_in.post(CREATE, data)

    again = signed_in.post(CREATE, data)

    assert len(tokens_in(first)) == 1
    assert again.status_code == 303 and again["Location"] == LIST
    assert APIKey.objects.filter(owner=user).count() == 1


def test_a_form_without_its_form_id_still_creates_a_key(signed_in: Client, user: Any) -> None:
    response = signed_in.post(
        CREATE, {"name": "CI", "scopes": ["credits:read"], "environment": "live"}
    )

    assert len(tokens_in(response)) == 1
    assert APIKey.objects.filter(owner=user).count() == 1


def test_an_error_of_the_key_operations_is_shown_on_the_form(
    create: Callable[..., Any], user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(forms.SCOPES, "Reports", "A malformed scope offered by mistake.")

    response = create(scopes=["Reports"])

    assert response.status_code == 400
    assert "Scopes must look like" in " ".join(response.context["form"].errors["scopes"])
    assert not APIKey.objects.filter(owner=user).exists()


def test_the_create_url_answers_only_posts(signed_in: Client) -> None:
    assert signed_in.get(CREATE).status_code == 405


# -- roll -----------------------------------------------------------------------------------


def test_the_roll_page_asks_first_and_changes_nothing(signed_in: Client, user: Any) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])

    response = signed_in.get(roll_url(key))

    assert response.status_code == 200
    assert response.context["can_roll"] is True
    assert response.context["grace"].replace("\xa0", " ") == "1 day"  # the default grace
    assert APIKey.objects.filter(owner=user).count() == 1


@override_settings(QUICKSCALE_APIKEYS_ROLL_GRACE=3600)
def test_rolling_shows_a_new_token_and_the_old_one_works_for_the_grace_period(
    signed_in: Client, user: Any
) -> None:
    key, old_token = create_key(user, "CI", scopes=["credits:read", "runs:read"])
    before = timezone.now()

    response = signed_in.post(roll_url(key))

    assert response.status_code == 200
    [new_token] = tokens_in(response)
    assert new_token != old_token
    new = authenticate(new_token)
    assert (new.name, new.scopes, new.rotated_from_id) == ("CI", key.scopes, key.pk)
    assert authenticate(old_token).pk == key.pk
    key.refresh_from_db()
    assert key.expires_at is not None
    assert before + timedelta(hours=1) <= key.expires_at <= timezone.now() + timedelta(hours=1)
    assert key.masked in response.content.decode()


@override_settings(QUICKSCALE_APIKEYS_ROLL_GRACE=0)
def test_rolling_without_a_grace_period_stops_the_old_key_at_once(
    signed_in: Client, user: Any
) -> None:
    key, old_token = create_key(user, "CI", scopes=["credits:read"])

    assert "stops working at once" in signed_in.get(roll_url(key)).content.decode()
    signed_in.post(roll_url(key))

    with pytest.raises(AuthenticationFailed):
        authenticate(old_token)


def test_a_key_rolled_already_cannot_be_rolled_again(signed_in: Client, user: Any) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])
    signed_in.post(roll_url(key))

    page = signed_in.get(roll_url(key))
    again = signed_in.post(roll_url(key), follow=True)

    assert page.context["can_roll"] is False
    assert tokens_in(again) == []
    assert "This key was rolled already." in again.content.decode()
    assert APIKey.objects.filter(owner=user).count() == 2


# -- revoke -----------------------------------------------------------------------------------


def test_the_revoke_page_asks_first_and_changes_nothing(signed_in: Client, user: Any) -> None:
    key, token = create_key(user, "CI", scopes=["credits:read"])

    response = signed_in.get(revoke_url(key))

    assert response.status_code == 200
    assert authenticate(token).pk == key.pk


def test_revoking_a_key_stops_it_at_once(signed_in: Client, user: Any) -> None:
    key, token = create_key(user, "CI", scopes=["credits:read"])

    response = signed_in.post(revoke_url(key), follow=True)

    assert response.redirect_chain == [(LIST, 303)]
    assert f"Revoked the key “CI” ({key.masked})" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == user
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate(token)


def test_revoking_a_revoked_key_changes_nothing(signed_in: Client, user: Any) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])
    signed_in.post(revoke_url(key))
    key.refresh_from_db()
    first = key.revoked_at

    response = signed_in.post(revoke_url(key))

    assert response.status_code == 303
    key.refresh_from_db()
    assert key.revoked_at == first


# -- someone else's key -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["roll", "revoke"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_key_is_not_found_and_left_alone(
    signed_in: Client, make_user: Callable[..., Any], name: str, method: str
) -> None:
    key, token = create_key(make_user(), "Theirs", scopes=["credits:read"])

    response = getattr(signed_in, method)(reverse(f"quickscale_apikeys:{name}", args=[key.key_id]))

    assert response.status_code == 404
    assert authenticate(token).pk == key.pk
    assert APIKey.objects.count() == 1


def test_an_unknown_key_id_is_not_found(signed_in: Client) -> None:
    response = signed_in.post(reverse("quickscale_apikeys:revoke", args=["nosuchkey123"]))

    assert response.status_code == 404


# -- CSRF -----------------------------------------------------------------------------------------


@pytest.fixture
def strict_client(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_creating_needs_the_csrf_token(strict_client: Client, user: Any) -> None:
    page = strict_client.get(LIST)
    data = {"name": "CI", "scopes": ["credits:read"], "environment": "live"}

    refused = strict_client.post(CREATE, {**data, "form_id": form_id(page)})
    accepted = strict_client.post(
        CREATE, {**data, "form_id": form_id(page), "csrfmiddlewaretoken": csrf_token(page)}
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert APIKey.objects.filter(owner=user).count() == 1


@pytest.mark.parametrize("name", ["roll", "revoke"])
def test_rolling_and_revoking_need_the_csrf_token(
    strict_client: Client, user: Any, name: str
) -> None:
    key, token = create_key(user, "CI", scopes=["credits:read"])
    url = reverse(f"quickscale_apikeys:{name}", args=[key.key_id])
    page = strict_client.get(url)

    refused = strict_client.post(url)
    assert refused.status_code == 403
    assert APIKey.objects.filter(owner=user).count() == 1
    assert authenticate(token).pk == key.pk

    accepted = strict_client.post(url, {"csrfmiddlewaretoken": csrf_token(page)})
    assert accepted.status_code in (200, 303)
    key.refresh_from_db()
    assert key.expires_at is not None if name == "roll" else key.revoked_at is not None


def test_the_list_links_to_the_api_docs(signed_in: Client) -> None:
    response = signed_in.get(LIST)

    assert f'href="{reverse("quickscale_api:docs")}"' in response.content.decode()


@override_settings(ROOT_URLCONF="tests.apikeys.urls_without_api")
def test_without_the_api_the_list_links_to_no_docs(signed_in: Client) -> None:
    response = signed_in.get("/keys/")

    assert response.status_code == 200
    assert "API docs" not in response.content.decode()
