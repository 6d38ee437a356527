"""API keys in the admin: read-only pages that never show a secret, and "Revoke selected keys"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quickscale.apikeys import tokens
from quickscale.apikeys.exceptions import AuthenticationFailed
from quickscale.apikeys.keys import authenticate, create_key
from quickscale.apikeys.models import APIKey

CHANGELIST = reverse("admin:quickscale_apikeys_apikey_changelist")


def change_url(key: APIKey) -> str:
    return reverse("admin:quickscale_apikeys_apikey_change", args=[key.pk])


def secret_of(token: str) -> str:
    parsed = tokens.parse(token, "qs")
    assert parsed is not None
    return parsed.secret


def assert_shows_no_secret(response: Any, key: APIKey, token: str) -> None:
    body = response.content.decode()
    assert secret_of(token) not in body
    assert key.secret_hash not in body
    assert "secret_hash" not in body


def revoke(client: Client, *selected: APIKey) -> Any:
    return client.post(
        CHANGELIST,
        {"action": "revoke_selected", ACTION_CHECKBOX_NAME: [key.pk for key in selected]},
        follow=True,
    )


@pytest.fixture
def key_and_token(user: Any) -> tuple[APIKey, str]:
    return create_key(user, "Deploy bot", scopes=["credits:read", "services:write"])


def test_the_changelist_shows_keys_masked_and_never_their_secret(
    admin_client: Client, key_and_token: tuple[APIKey, str], user: Any
) -> None:
    key, token = key_and_token

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    body = response.content.decode()
    assert key.masked in body
    assert "Deploy bot" in body and str(user) in body
    assert "credits:read, services:write" in body
    assert_shows_no_secret(response, key, token)


def test_the_change_page_shows_the_key_read_only_and_never_its_secret(
    admin_client: Client, key_and_token: tuple[APIKey, str]
) -> None:
    key, token = key_and_token

    response = admin_client.get(change_url(key))

    assert response.status_code == 200
    assert key.masked in response.content.decode()
    assert_shows_no_secret(response, key, token)
    assert "secret_hash" not in response.context["adminform"].form.fields
    assert 'name="name"' not in response.content.decode()  # no editable fields


def test_saving_the_change_page_changes_nothing(
    admin_client: Client, key_and_token: tuple[APIKey, str]
) -> None:
    key, _ = key_and_token

    response = admin_client.post(change_url(key), {"name": "Renamed", "scopes": '["usage:read"]'})

    assert response.status_code == 403
    key.refresh_from_db()
    assert (key.name, key.scopes) == ("Deploy bot", ["credits:read", "services:write"])


def test_keys_cannot_be_added_or_deleted_in_the_admin(
    admin_client: Client, key_and_token: tuple[APIKey, str]
) -> None:
    key, _ = key_and_token

    added = admin_client.get(reverse("admin:quickscale_apikeys_apikey_add"))
    deleted = admin_client.post(
        reverse("admin:quickscale_apikeys_apikey_delete", args=[key.pk]), {"post": "yes"}
    )

    assert (added.status_code, deleted.status_code) == (403, 403)
    assert APIKey.objects.filter(pk=key.pk).exists()


@pytest.mark.parametrize("term", ["Deploy", "KEY_ID", "EMAIL"])
def test_keys_are_found_by_name_key_id_or_owner_email(
    admin_client: Client,
    key_and_token: tuple[APIKey, str],
    make_user: Callable[..., Any],
    user: Any,
    term: str,
) -> None:
    key, _ = key_and_token
    create_key(make_user(), "Other", scopes=["credits:read"])
    query = {"KEY_ID": key.key_id, "EMAIL": user.email}.get(term, term)

    response = admin_client.get(CHANGELIST, {"q": query})

    assert [found.pk for found in response.context["cl"].result_list] == [key.pk]


@pytest.mark.parametrize(("status", "expected"), [("active", "Live"), ("revoked", "Gone")])
def test_keys_are_filtered_by_status(
    admin_client: Client, user: Any, status: str, expected: str
) -> None:
    create_key(user, "Live", scopes=["credits:read"])
    gone, _ = create_key(user, "Gone", scopes=["credits:read"])
    revoke(admin_client, gone)

    response = admin_client.get(CHANGELIST, {"status": status})

    assert [key.name for key in response.context["cl"].result_list] == [expected]


def test_keys_are_filtered_by_environment(admin_client: Client, user: Any) -> None:
    create_key(user, "Live", scopes=["credits:read"])
    create_key(user, "Test", scopes=["credits:read"], environment="test")

    response = admin_client.get(CHANGELIST, {"environment": "test"})

    assert [key.name for key in response.context["cl"].result_list] == ["Test"]


def test_the_changelist_runs_the_same_queries_whatever_the_number_of_keys(
    admin_client: Client, make_user: Callable[..., Any], django_assert_max_num_queries: Any
) -> None:
    for _ in range(2):
        create_key(make_user(), "Key", scopes=["credits:read"])
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    for _ in range(15):
        create_key(make_user(), "Key", scopes=["credits:read"])

    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(CHANGELIST)

    assert response.context["cl"].result_count == 17


# -- revoking ---------------------------------------------------------------------------------


def test_revoke_selected_keys_stops_them_and_records_who_did_it(
    admin_client: Client, admin_user: Any, user: Any
) -> None:
    first, first_token = create_key(user, "One", scopes=["credits:read"])
    second, second_token = create_key(user, "Two", scopes=["credits:read"])
    kept, kept_token = create_key(user, "Kept", scopes=["credits:read"])

    response = revoke(admin_client, first, second)

    assert "Revoked 2 keys." in response.content.decode()
    for key, token in ((first, first_token), (second, second_token)):
        key.refresh_from_db()
        assert key.revoked_by == admin_user
        assert key.revoked_reason == "Revoked in the admin."
        with pytest.raises(AuthenticationFailed):
            authenticate(token)
    assert authenticate(kept_token).pk == kept.pk


def test_revoking_revoked_keys_again_changes_nothing(admin_client: Client, user: Any) -> None:
    key, _ = create_key(user, "One", scopes=["credits:read"])
    revoke(admin_client, key)
    key.refresh_from_db()
    first = key.revoked_at

    response = revoke(admin_client, key)

    assert "revoked already" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at == first


def test_staff_who_may_only_view_keys_cannot_revoke_them(
    client: Client, make_user: Callable[..., Any], key_and_token: tuple[APIKey, str]
) -> None:
    key, token = key_and_token
    viewer = make_user(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client.force_login(viewer)

    page = client.get(CHANGELIST)
    revoke(client, key)

    assert page.status_code == 200
    assert "revoke_selected" not in page.content.decode()
    assert_shows_no_secret(page, key, token)
    assert authenticate(token).pk == key.pk
