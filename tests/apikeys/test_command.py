"""``manage.py apikeys``: keys for operators, through the real command parser."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from quickscale.apikeys import tokens
from quickscale.apikeys.exceptions import AuthenticationFailed
from quickscale.apikeys.keys import authenticate, create_key
from quickscale.apikeys.models import APIKey


def apikeys(*args: str) -> tuple[str, str]:
    """Run ``manage.py apikeys <args>`` and return what it wrote to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("apikeys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def tokens_in(text: str) -> list[str]:
    return [match[0] for match in re.finditer(tokens.TOKEN_PATTERN, text)]


# -- create -------------------------------------------------------------------------------


def test_create_prints_the_token_once_with_a_warning(user: Any) -> None:
    out, err = apikeys(
        "create", user.email, "--name", "CI", "--scope", "credits:read", "--scope", "services:write"
    )

    [token] = tokens_in(out)
    assert out.count(token) == 1
    assert "it will not be shown again" in out
    assert err == ""
    key = authenticate(token)
    assert (key.owner, key.name, key.scopes) == (user, "CI", ["credits:read", "services:write"])
    assert key.masked in out


def test_create_with_every_option(user: Any) -> None:
    before = timezone.now()

    out, _ = apikeys(
        "create",
        str(user.pk),
        "--name",
        "Reports",
        "--scope",
        "usage:read",
        "--env",
        "test",
        "--expires-in-days",
        "30",
        "--allowed-ip",
        "203.0.113.0/24",
        "--allowed-ip",
        "2001:db8::1",
        "--rate-limit",
        "60",
    )

    [token] = tokens_in(out)
    key = APIKey.objects.get(owner=user)
    assert token.startswith(f"qs_test_{key.key_id}.")
    assert key.allowed_ips == ["203.0.113.0/24", "2001:db8::1/128"]
    assert key.rate_limit == 60
    assert key.expires_at is not None
    assert before + timedelta(days=30) <= key.expires_at <= timezone.now() + timedelta(days=30)
    assert authenticate(token, "203.0.113.7").pk == key.pk
    with pytest.raises(AuthenticationFailed):
        authenticate(token, "198.51.100.1")


def test_create_quietly_prints_only_the_token(user: Any) -> None:
    out, _ = apikeys("create", user.email, "--name", "CI", "--scope", "runs:read", "-v", "0")

    [token] = tokens_in(out)
    assert out == f"{token}\n"


def test_create_warns_about_a_scope_the_api_does_not_check(user: Any) -> None:
    out, err = apikeys("create", user.email, "--name", "CI", "--scope", "reports:read")

    assert len(tokens_in(out)) == 1
    assert "'reports:read' is not a scope of the API" in err


def test_create_warns_about_a_key_without_scopes(user: Any) -> None:
    _, err = apikeys("create", user.email, "--name", "CI")

    assert "The key has no scopes: it can call nothing." in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scope", "credits"], "Scopes must look like 'resource:read'"),
        (["--scope", "credits:admin"], "Scopes must look like 'resource:read'"),
        (["--allowed-ip", "not-a-network"], "'not-a-network' is not an IP address or network."),
        (["--name", " "], "A key needs a name of 1 to 100 characters."),
    ],
)
def test_create_refuses_bad_input_and_creates_nothing(
    user: Any, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        apikeys("create", user.email, "--name", "CI", *args)

    assert not APIKey.objects.exists()


@pytest.mark.parametrize(
    ("option", "value"), [("--expires-in-days", "0"), ("--rate-limit", "none"), ("--env", "prod")]
)
def test_create_refuses_a_bad_option_value(user: Any, option: str, value: str) -> None:
    with pytest.raises(CommandError, match=re.escape(option)):
        apikeys("create", user.email, "--name", "CI", option, value)

    assert not APIKey.objects.exists()


def test_create_for_an_unknown_user_fails_naming_the_user(db: None) -> None:
    with pytest.raises(CommandError, match="No user has the id, email or username 'nobody'"):
        apikeys("create", "nobody", "--name", "CI", "--scope", "credits:read")


# -- list ---------------------------------------------------------------------------------


def test_list_shows_masked_keys_and_never_their_secrets(
    user: Any, make_user: Callable[..., Any]
) -> None:
    mine, my_token = create_key(user, "Mine", scopes=["credits:read"])
    theirs, their_token = create_key(make_user(), "Theirs", scopes=["usage:read"])
    create_key(user, "Gone", scopes=["credits:read"])
    apikeys("revoke", APIKey.objects.get(name="Gone").key_id)

    out, _ = apikeys("list")

    lines = out.splitlines()
    assert lines[0].split() == [
        "KEY",
        "OWNER",
        "NAME",
        "SCOPES",
        "STATUS",
        "CREATED",
        "LAST",
        "USED",
    ]
    assert [line.split()[2] for line in lines[1:]] == ["Gone", "Theirs", "Mine"]
    assert "revoked" in lines[1] and "active" in lines[3]
    assert mine.masked in out and theirs.masked in out
    assert tokens_in(out) == []
    for token in (my_token, their_token):
        assert token.split(".")[1] not in out


def test_list_of_one_user(user: Any, make_user: Callable[..., Any]) -> None:
    mine, _ = create_key(user, "Mine", scopes=["credits:read"])
    theirs, _ = create_key(make_user(), "Theirs", scopes=["credits:read"])

    out, _ = apikeys("list", user.email)

    assert mine.masked in out and theirs.masked not in out


def test_list_without_keys_says_so(user: Any) -> None:
    assert apikeys("list", user.email)[0] == "No API keys.\n"


# -- roll ---------------------------------------------------------------------------------


def test_roll_prints_a_new_token_and_the_old_one_works_for_the_grace_period(user: Any) -> None:
    key, old_token = create_key(user, "CI", scopes=["credits:read"])

    out, _ = apikeys("roll", key.key_id, "--grace", "600")

    [new_token] = tokens_in(out)
    assert new_token != old_token
    assert authenticate(new_token).rotated_from_id == key.pk
    assert authenticate(old_token).pk == key.pk
    key.refresh_from_db()
    assert key.expires_at is not None
    assert key.expires_at <= timezone.now() + timedelta(seconds=600)
    assert f"Rolled {key.masked}: it keeps working until" in out
    assert "it will not be shown again" in out


def test_roll_without_grace_stops_the_old_key_at_once(user: Any) -> None:
    key, old_token = create_key(user, "CI", scopes=["credits:read"])

    apikeys("roll", key.key_id, "--grace", "0")

    with pytest.raises(AuthenticationFailed):
        authenticate(old_token)


def test_roll_accepts_the_masked_key(user: Any) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])

    out, _ = apikeys("roll", key.masked)

    assert len(tokens_in(out)) == 1


def test_rolling_a_rolled_key_fails(user: Any) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])
    apikeys("roll", key.key_id)

    with pytest.raises(CommandError, match=re.escape("This key was rolled already.")):
        apikeys("roll", key.key_id)


@pytest.mark.parametrize("name", ["roll", "revoke"])
def test_an_unknown_key_fails_naming_it(db: None, name: str) -> None:
    with pytest.raises(CommandError, match="No API key has the id 'nosuchkey123'"):
        apikeys(name, "nosuchkey123")


# -- revoke -------------------------------------------------------------------------------


def test_revoke_stops_the_key_and_records_the_reason(user: Any) -> None:
    key, token = create_key(user, "CI", scopes=["credits:read"])

    out, _ = apikeys("revoke", key.key_id, "--reason", "leaked in a log")

    assert f"Revoked {key.masked}" in out
    key.refresh_from_db()
    assert key.revoked_reason == "leaked in a log"
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate(token)


def test_revoking_a_revoked_key_says_so_and_changes_nothing(user: Any) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])
    apikeys("revoke", key.key_id, "--reason", "first")

    out, _ = apikeys("revoke", key.key_id, "--reason", "second")

    assert "was revoked already" in out
    key.refresh_from_db()
    assert key.revoked_reason == "first"
