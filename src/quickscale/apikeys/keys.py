"""API key operations: create, roll, revoke, list, and authenticate a presented token.

Verifying a key costs one indexed query and one HMAC-SHA256 (microseconds), never a password
hash: the secret has 256 random bits, so a slow hash would add nothing but latency.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from quickscale.apikeys import signals, tokens
from quickscale.apikeys.exceptions import AuthenticationFailed, InvalidKeyArgument
from quickscale.apikeys.models import APIKey
from quickscale.core.db import PreparedQuery

SCOPE_RE = re.compile(r"[a-z][a-z0-9_]*:(read|write)")
#: Seconds between two writes of a key's last use.
LAST_USED_INTERVAL = 60


# -- hashing -------------------------------------------------------------------------------


def pepper_version() -> int:
    """The version new keys are hashed with."""
    peppers = settings.QUICKSCALE_APIKEYS_PEPPERS
    if not peppers:
        return 0
    return settings.QUICKSCALE_APIKEYS_PEPPER_VERSION or max(peppers)


def _pepper(version: int) -> bytes | None:
    peppers = settings.QUICKSCALE_APIKEYS_PEPPERS
    if version == 0 and not peppers:
        return _derived_pepper(settings.SECRET_KEY)
    value = peppers.get(version)
    return None if value is None else value.encode()


@functools.lru_cache(maxsize=4)
def _derived_pepper(secret_key: str) -> bytes:
    """Version 0: a pepper derived from ``SECRET_KEY`` (cached per key; derivation is an HMAC)."""
    return salted_hmac(
        "quickscale.apikeys.pepper", "", secret=secret_key, algorithm="sha256"
    ).digest()


def hash_secret(secret: str, version: int) -> str | None:
    """HMAC-SHA256 of the secret with the pepper of ``version`` (``None``: unknown version)."""
    pepper = _pepper(version)
    if pepper is None:
        return None
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


# -- operations ------------------------------------------------------------------------------


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        raise InvalidKeyArgument("scopes must be a list such as ['credits:read'].")
    cleaned = sorted(set(scopes))
    bad = [
        scope for scope in cleaned if not isinstance(scope, str) or not SCOPE_RE.fullmatch(scope)
    ]
    if bad:
        raise InvalidKeyArgument(
            f"Scopes must look like 'resource:read' or 'resource:write', not {bad}.",
            details={"field": "scopes", "invalid": bad},
        )
    return cleaned


def _clean_networks(networks: Iterable[str]) -> list[str]:
    if isinstance(networks, str):
        raise InvalidKeyArgument("allowed_ips must be a list of addresses or networks.")
    cleaned = []
    for network in networks:
        try:
            cleaned.append(str(ipaddress.ip_network(str(network).strip(), strict=False)))
        except ValueError:
            raise InvalidKeyArgument(
                f"{network!r} is not an IP address or network.",
                details={"field": "allowed_ips", "invalid": network},
            ) from None
    return cleaned


def _clean(name: Any, environment: Any, expires_at: Any, rate_limit: Any) -> None:
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        raise InvalidKeyArgument(
            "A key needs a name of 1 to 100 characters.", details={"field": "name"}
        )
    if environment not in tokens.ENVIRONMENTS:
        raise InvalidKeyArgument(
            f"environment must be 'live' or 'test', not {environment!r}.",
            details={"field": "environment"},
        )
    if expires_at is not None and (
        not isinstance(expires_at, datetime)
        or timezone.is_naive(expires_at)
        or expires_at <= timezone.now()
    ):
        raise InvalidKeyArgument(
            "expires_at must be an aware datetime in the future.", details={"field": "expires_at"}
        )
    if rate_limit is not None and (
        isinstance(rate_limit, bool)
        or not isinstance(rate_limit, int)
        or not 1 <= rate_limit <= 1_000_000
    ):
        raise InvalidKeyArgument(
            "rate_limit must be a number of requests per minute from 1 to 1000000.",
            details={"field": "rate_limit"},
        )


def create_key(
    owner: Any,
    name: str,
    *,
    scopes: Iterable[str] = (),
    environment: str = "live",
    expires_at: datetime | None = None,
    allowed_ips: Iterable[str] = (),
    rate_limit: int | None = None,
    created_by: Any = None,
    rotated_from: APIKey | None = None,
) -> tuple[APIKey, str]:
    """Create a key and return it with its token. The token is shown to the user once and
    never stored: only its key id and an HMAC of its secret are."""
    _clean(name, environment, expires_at, rate_limit)
    clean_scopes = _clean_scopes(scopes)
    networks = _clean_networks(allowed_ips)
    version = pepper_version()
    for _ in range(5):
        token = tokens.new_token(settings.QUICKSCALE_APIKEYS_PREFIX, environment)
        digest = hash_secret(token.secret, version)
        assert digest is not None
        try:
            with transaction.atomic():
                key = APIKey.objects.create(
                    owner=owner,
                    name=name.strip(),
                    key_id=token.key_id,
                    environment=environment,
                    secret_hash=digest,
                    pepper_version=version,
                    scopes=clean_scopes,
                    allowed_ips=networks,
                    rate_limit=rate_limit,
                    created_by=created_by,
                    expires_at=expires_at,
                    rotated_from=rotated_from,
                )
                if rotated_from is None:
                    signals.api_key_created.send(sender=APIKey, key=key, by=created_by)
        except IntegrityError:
            if APIKey.objects.filter(key_id=token.key_id).exists():
                continue  # a key id collision (about 1 in 10**21): draw again
            raise
        return key, str(token)
    raise RuntimeError("Could not draw an unused key id.")


def roll_key(key: APIKey, *, by: Any = None, grace: int | None = None) -> tuple[APIKey, str]:
    """Replace a key with a new secret. The old key keeps working for ``grace`` seconds
    (``QUICKSCALE_APIKEYS_ROLL_GRACE``), so clients can switch without downtime."""
    grace = settings.QUICKSCALE_APIKEYS_ROLL_GRACE if grace is None else grace
    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
        raise InvalidKeyArgument("grace must be a number of seconds, 0 or more.")
    with transaction.atomic():
        old = APIKey.objects.select_for_update().get(pk=key.pk)
        if not old.is_active:
            raise InvalidKeyArgument(
                gettext("Only an active key can be rolled."), details={"key": old.key_id}
            )
        if APIKey.objects.filter(rotated_from=old).exists():
            raise InvalidKeyArgument(
                gettext("This key was rolled already."), details={"key": old.key_id}
            )
        new, token = create_key(
            old.owner,
            old.name,
            scopes=old.scopes,
            environment=old.environment,
            expires_at=old.expires_at,
            allowed_ips=old.allowed_ips,
            rate_limit=old.rate_limit,
            created_by=by,
            rotated_from=old,
        )
        end = timezone.now() + timedelta(seconds=grace)
        old.expires_at = min(old.expires_at, end) if old.expires_at else end
        old.save(update_fields=["expires_at"])
        signals.api_key_rolled.send(sender=APIKey, key=new, previous=old, by=by)
    return new, token


def revoke_key(key: APIKey, *, by: Any = None, reason: str = "") -> APIKey:
    """Stop a key at once. Revoking a revoked key changes nothing."""
    if not isinstance(reason, str) or len(reason) > 255:
        raise InvalidKeyArgument("reason must be a string of at most 255 characters.")
    with transaction.atomic():
        current = APIKey.objects.select_for_update().get(pk=key.pk)
        if current.revoked_at is None:
            current.revoked_at = timezone.now()
            current.revoked_by = by
            current.revoked_reason = reason
            current.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
            signals.api_key_revoked.send(sender=APIKey, key=current, by=by, reason=reason)
    return current


def list_keys(owner: Any) -> list[APIKey]:
    """Every key of ``owner``, revoked and expired ones too, newest first."""
    return list(APIKey.objects.filter(owner=owner).order_by("-created_at"))


# -- authentication ------------------------------------------------------------------------------

#: The key with a key id, and its owner: one indexed query, compiled by the ORM once per
#: connection and run as a prepared statement (compiling it costs more than running it).
_BY_KEY_ID = PreparedQuery(
    lambda key_id: APIKey.objects.select_related("owner").filter(key_id=key_id)
)


def authenticate(raw: str, ip: str | None = None) -> APIKey:
    """The key a presented token belongs to, or ``AuthenticationFailed``.

    A malformed token or a wrong checksum is refused before any query. An unknown key id and a
    wrong secret take the same path (one query, one HMAC) and get the same answer.
    """
    token = tokens.parse(raw.strip(), settings.QUICKSCALE_APIKEYS_PREFIX)
    if token is None:
        raise AuthenticationFailed(gettext("The API key is malformed."))
    key = _BY_KEY_ID.first(token.key_id)
    # An unknown key id costs an HMAC too (with the current pepper), as a wrong secret does.
    digest = hash_secret(token.secret, pepper_version() if key is None else key.pepper_version)
    if (
        key is None
        or digest is None
        or not hmac.compare_digest(digest, key.secret_hash)
        or key.environment != token.env
    ):
        raise AuthenticationFailed(gettext("The API key is not valid."))
    now = timezone.now()
    if key.revoked_at is not None:
        raise AuthenticationFailed(gettext("The API key was revoked."))
    if key.expires_at is not None and key.expires_at <= now:
        raise AuthenticationFailed(gettext("The API key has expired."))
    if not key.owner.is_active:
        raise AuthenticationFailed(gettext("The API key's owner is inactive."))
    if key.allowed_ips and not _allowed(ip, key.allowed_ips):
        raise AuthenticationFailed(gettext("The API key may not be used from this address."))
    _touch(key, ip, now)
    return key


def _allowed(ip: str | None, networks: list[str]) -> bool:
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def _touch(key: APIKey, ip: str | None, now: datetime) -> None:
    """Record the last use, at most once a minute per key (a conditional UPDATE), so busy keys
    do not write on every request."""
    if key.last_used_at is not None and now - key.last_used_at < timedelta(
        seconds=LAST_USED_INTERVAL
    ):
        return
    stale = now - timedelta(seconds=LAST_USED_INTERVAL)
    APIKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
    ).update(last_used_at=now, last_used_ip=ip)
    key.last_used_at, key.last_used_ip = now, ip
