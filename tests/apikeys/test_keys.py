"""Tokens, storage and authentication of API keys."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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
    _, token = key_and_token
    authenticate(token)

    with CaptureQueriesContext(connection) as queries:
        authenticate(token)

    assert len(queries) == 1  # the lookup; no UPDATE


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


@pytest.mark.parametrize("mangle", ["checksum", "truncate", "prefix", "garbage", "empty"])
def test_a_malformed_key_is_refused_without_any_query(
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
        CaptureQueriesContext(connection) as queries,
        pytest.raises(AuthenticationFailed) as raised,
    ):
        authenticate(bad)

    assert raised.value.message == "The API key is malformed."
    assert len(queries) == 0


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


def test_an_unknown_key_id_and_a_wrong_secret_cost_the_same_order_of_time(
    key_and_token: tuple[APIKey, str],
) -> None:
    _, token = key_and_token
    body = token[: -tokens.CHECKSUM_LENGTH]
    wrong = body[:-1] + ("A" if body[-1] != "A" else "B")
    wrong += tokens.checksum(wrong)
    unknown = str(tokens.new_token("qs", "live"))

    def median_seconds(candidate: str) -> float:
        samples = []
        for _ in range(60):
            started = time.perf_counter()
            with pytest.raises(AuthenticationFailed):
                authenticate(candidate)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    wrong_time, unknown_time = median_seconds(wrong), median_seconds(unknown)

    assert max(wrong_time, unknown_time) / min(wrong_time, unknown_time) < 3
