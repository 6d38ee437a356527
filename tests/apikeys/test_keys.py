"""Tokens, storage and authentication of API keys."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from quickscale.apikeys import tokens
from quickscale.apikeys.exceptions import AuthenticationFailed, InvalidKeyArgument
from quickscale.apikeys.keys import authenticate, create_key, revoke_key, roll_key
from quickscale.apikeys.models import APIKey


@pytest.fixture
def key_and_token(user: Any) -> tuple[APIKey, str]:
    return create_key(user, "CI", scopes=["credits:read"])


def test_a_token_has_the_published_format(key_and_token: tuple[APIKey, str]) -> None:
    key, token = key_and_token

    match = re.fullmatch(tokens.TOKEN_PATTERN, token)
    assert match is not None
    assert match["prefix"] == "qs" and match["env"] == "live"
    assert match["key_id"] == key.key_id


def test_the_secret_carries_256_bits() -> None:
    assert 62**tokens.SECRET_LENGTH >= 2**256


def test_only_a_hash_of_the_secret_is_stored(key_and_token: tuple[APIKey, str]) -> None:
    key, token = key_and_token
    secret = token.split(".", 1)[1][: tokens.SECRET_LENGTH]

    stored = APIKey.objects.filter(pk=key.pk).values().get()

    assert all(secret not in str(value) for value in stored.values())
    assert len(key.secret_hash) == 64


def test_a_valid_key_authenticates_and_records_its_use(key_and_token: tuple[APIKey, str]) -> None:
    key, token = key_and_token

    found = authenticate(token, "203.0.113.9")

    assert found.pk == key.pk
    key.refresh_from_db()
    assert key.last_used_ip == "203.0.113.9" and key.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(key_and_token: tuple[APIKey, str]) -> None:
    key, token = key_and_token
    authenticate(token, "203.0.113.9")
    key.refresh_from_db()
    first_use = key.last_used_at

    authenticate(token, "198.51.100.7")

    key.refresh_from_db()
    assert (key.last_used_at, key.last_used_ip) == (first_use, "203.0.113.9")


def test_last_use_is_written_again_after_a_minute(key_and_token: tuple[APIKey, str]) -> None:
    key, token = key_and_token
    long_ago = timezone.now() - timedelta(minutes=2)
    APIKey.objects.filter(pk=key.pk).update(last_used_at=long_ago, last_used_ip="203.0.113.9")

    authenticate(token, "198.51.100.7")

    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_at > long_ago
    assert key.last_used_ip == "198.51.100.7"


def test_the_key_found_is_the_stored_key_with_its_owner(user: Any) -> None:
    expires_at = timezone.now() + timedelta(days=3)
    created, token = create_key(
        user,
        "Reports",
        scopes=["services:write", "credits:read"],
        allowed_ips=["198.51.100.0/24"],
        expires_at=expires_at,
        rate_limit=42,
        environment="test",
    )

    found = authenticate(token, "198.51.100.7")

    stored = APIKey.objects.get(pk=created.pk)
    assert (found.pk, found.key_id, found.name) == (stored.pk, stored.key_id, "Reports")
    assert found.scopes == ["credits:read", "services:write"]
    assert found.allowed_ips == ["198.51.100.0/24"]
    assert found.expires_at == expires_at and timezone.is_aware(found.expires_at)
    assert found.created_at == stored.created_at
    assert (found.rate_limit, found.environment) == (42, "test")
    assert found.owner == user and found.owner.get_username() == user.get_username()


def test_a_key_presented_with_another_environment_is_refused(
    key_and_token: tuple[APIKey, str],
) -> None:
    _, token = key_and_token
    body = token[: -tokens.CHECKSUM_LENGTH].replace("_live_", "_test_", 1)

    with pytest.raises(AuthenticationFailed) as raised:
        authenticate(body + tokens.checksum(body))
    assert raised.value.message == "The API key is not valid."


def test_keys_authenticate_without_prepared_statements(
    key_and_token: tuple[APIKey, str],
) -> None:
    key, token = key_and_token

    with override_settings(QUICKSCALE_CORE_PREPARED_STATEMENTS=False):
        assert authenticate(token).pk == key.pk


@pytest.mark.django_db(transaction=True)
def test_keys_authenticate_again_after_the_connection_was_closed(
    key_and_token: tuple[APIKey, str],
) -> None:
    key, token = key_and_token
    authenticate(token)

    connection.close()

    assert authenticate(token).pk == key.pk


@pytest.mark.django_db(transaction=True)
def test_keys_authenticate_in_every_thread(key_and_token: tuple[APIKey, str]) -> None:
    key, token = key_and_token
    authenticate(token)
    found: list[int] = []

    def other_thread() -> None:
        try:
            found.append(authenticate(token).pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(timeout=30)

    assert found == [key.pk]


def test_a_wrong_secret_is_refused(key_and_token: tuple[APIKey, str]) -> None:
    _, token = key_and_token
    body = token[: -tokens.CHECKSUM_LENGTH]
    prefix, secret = body.split(".")
    forged = f"{prefix}.{'A' * len(secret)}"
    forged += tokens.checksum(forged)

    with pytest.raises(AuthenticationFailed) as raised:
        authenticate(forged)
    assert raised.value.message == "The API key is not valid."


def test_an_unknown_key_id_gets_the_same_answer_as_a_wrong_secret(db: None) -> None:
    token = str(tokens.new_token("qs", "live"))

    with pytest.raises(AuthenticationFailed) as raised:
        authenticate(token)
    assert raised.value.message == "The API key is not valid."


def refuse_any_statement(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
    """An ``execute_wrapper`` for a database that must not be asked anything."""
    raise AssertionError(f"the database was asked: {sql}")


@pytest.mark.parametrize("mangle", ["checksum", "truncate", "prefix", "garbage", "empty"])
def test_a_malformed_key_is_refused_without_asking_the_database(
    key_and_token: tuple[APIKey, str], mangle: str
) -> None:
    _, token = key_and_token
    bad = {
        "checksum": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "truncate": token[:-3],
        "prefix": "xx" + token[2:],
        "garbage": "not a key at all",
        "empty": "",
    }[mangle]

    with (
        connection.execute_wrapper(refuse_any_statement),
        pytest.raises(AuthenticationFailed) as raised,
    ):
        authenticate(bad)

    assert raised.value.message == "The API key is malformed."


def test_a_revoked_key_is_refused(key_and_token: tuple[APIKey, str], admin_user: Any) -> None:
    key, token = key_and_token
    revoke_key(key, by=admin_user, reason="leaked")

    with pytest.raises(AuthenticationFailed) as raised:
        authenticate(token)
    assert raised.value.message == "The API key was revoked."
    key.refresh_from_db()
    assert key.revoked_by == admin_user and key.revoked_reason == "leaked"


def test_an_expired_key_is_refused(user: Any) -> None:
    key, token = create_key(user, "short", expires_at=timezone.now() + timedelta(hours=1))
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(AuthenticationFailed) as raised:
        authenticate(token)
    assert raised.value.message == "The API key has expired."


def test_a_rolled_key_works_during_its_grace_and_not_after(
    key_and_token: tuple[APIKey, str],
) -> None:
    old, old_token = key_and_token

    new, new_token = roll_key(old, grace=3600)

    assert authenticate(new_token).pk == new.pk
    assert authenticate(old_token).pk == old.pk
    assert new.rotated_from_id == old.pk and new.scopes == old.scopes
    APIKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(AuthenticationFailed):
        authenticate(old_token)
    assert authenticate(new_token).pk == new.pk


def test_a_key_is_rolled_only_once(key_and_token: tuple[APIKey, str]) -> None:
    old, _ = key_and_token
    roll_key(old)

    with pytest.raises(InvalidKeyArgument):
        roll_key(old)


def test_a_key_limited_to_networks_is_refused_elsewhere(user: Any) -> None:
    _, token = create_key(user, "office", allowed_ips=["198.51.100.0/24"])

    assert authenticate(token, "198.51.100.7")
    with pytest.raises(AuthenticationFailed) as raised:
        authenticate(token, "203.0.113.1")
    assert raised.value.message == "The API key may not be used from this address."
    with pytest.raises(AuthenticationFailed):
        authenticate(token, None)


def test_an_inactive_owner_cannot_use_a_key(key_and_token: tuple[APIKey, str]) -> None:
    key, token = key_and_token
    type(key.owner).objects.filter(pk=key.owner_id).update(is_active=False)

    with pytest.raises(AuthenticationFailed):
        authenticate(token)


def test_keys_hashed_with_an_older_pepper_keep_working_after_rotation(
    user: Any, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_PEPPERS = {1: "first pepper"}
    old, old_token = create_key(user, "old")
    settings.QUICKSCALE_APIKEYS_PEPPERS = {1: "first pepper", 2: "second pepper"}

    new, new_token = create_key(user, "new")

    assert (old.pepper_version, new.pepper_version) == (1, 2)
    assert authenticate(old_token).pk == old.pk
    assert authenticate(new_token).pk == new.pk
    settings.QUICKSCALE_APIKEYS_PEPPERS = {2: "second pepper"}
    with pytest.raises(AuthenticationFailed):
        authenticate(old_token)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scopes": ["credits"]}, "scopes"),
        ({"scopes": "credits:read"}, None),
        ({"scopes": ["credits:delete"]}, "scopes"),
        ({"allowed_ips": ["not-an-ip"]}, "allowed_ips"),
        ({"environment": "prod"}, "environment"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"expires_at": timezone.now() - timedelta(days=1)}, "expires_at"),
    ],
)
def test_bad_key_settings_are_refused_naming_the_field(
    user: Any, kwargs: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(InvalidKeyArgument) as raised:
        create_key(user, "bad", **kwargs)

    if field is not None:
        assert raised.value.details["field"] == field
    assert not APIKey.objects.exists()


def test_write_implies_read_and_nothing_else_is_granted(user: Any) -> None:
    key, _ = create_key(user, "scoped", scopes=["services:write", "credits:read"])

    assert key.has_scope("services:read") and key.has_scope("services:write")
    assert key.has_scope("credits:read")
    assert not key.has_scope("credits:write")
    assert not key.has_scope("runs:read")
