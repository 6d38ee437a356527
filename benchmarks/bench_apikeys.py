"""API key verification: its CPU cost, and with its lookup against djangorestframework-api-key.

1. The CPU cost of checking a presented token once the key is loaded, in microseconds: each step
   ``quickscale.apikeys.keys.authenticate`` takes (parsing the token and its checksum, the
   HMAC-SHA256 of the secret and the constant-time comparison) and, as the baseline in the same
   run, one bare ``hmac.new(..., sha256)`` of the same secret. For scale it also times Django's
   default password hasher (PBKDF2), which some API key libraries run on every request.
   Target: verification < 50 µs.
2. On PostgreSQL, the whole of ``keys.authenticate`` (the indexed lookup of the key and its
   owner, the HMAC, the checks of the key) against, in the same run, djangorestframework-api-key's
   ``APIKey.objects.is_valid`` (a lookup by prefix and a SHA-512), each on a key of its own,
   taking turns. Target: ours / theirs <= 1. It needs djangorestframework-api-key:
   ``uv run --with djangorestframework-api-key python -m benchmarks apikeys``; without it only
   ours is timed.
3. A diagnostic, not a target: ``authenticate`` with an unknown key id and with a wrong secret
   for a known one. Both take one query and one HMAC and get the same answer; the figures show
   how far apart their times are.

``--no-database`` runs part 1 alone, as it runs when PostgreSQL cannot be reached.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import sys
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from benchmarks.common import (
    BenchmarkError,
    base_arguments,
    bench_database,
    median,
    migrate,
    setup_django,
    table,
    time_interleaved,
    verdict,
)

VERIFY_TARGET = 50  # µs, at most
LOOKUP_TARGET = 1.0  # ours / djangorestframework-api-key, at most
APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "quickscale.core",
    "quickscale.apikeys",
]
THEIRS = "rest_framework_api_key"


def main(argv: list[str]) -> int:
    parser = base_arguments("apikeys", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls of each step")
    parser.add_argument(
        "--lookups", type=int, default=5_000, help="timed calls with the lookup (default 5000)"
    )
    parser.add_argument(
        "--no-database", action="store_true", help="only the CPU cost (no PostgreSQL needed)"
    )
    options = parser.parse_args(argv)
    calls = 200 if options.quick else options.calls
    lookups = 100 if options.quick else options.lookups
    with ExitStack() as stack:
        try:
            url = None if options.no_database else stack.enter_context(bench_database())
        except BenchmarkError as error:
            print(f"(the CPU cost only: {error})")
            url = None
        if url is None:
            setup_without_database()
            verification(calls, quick=options.quick)
            return 0
        theirs = importlib.util.find_spec(THEIRS) is not None
        setup_django(url, INSTALLED_APPS=APPS + (["rest_framework", THEIRS] if theirs else []))
        migrate()
        verification(calls, quick=options.quick)
        print()
        lookup(lookups, theirs=theirs)
        print()
        refusals(lookups)
    return 0


def setup_without_database() -> None:
    """Django without a database, for part 1 alone."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="benchmark-secret-key-that-is-long-enough-for-hmac-use",
            INSTALLED_APPS=APPS,
            DATABASES={},
            USE_TZ=True,
        )
    django.setup()


# -- 1. the CPU cost -------------------------------------------------------------------------


def verification(calls: int, *, quick: bool) -> None:
    """Part 1: the steps of verifying a loaded key, against a bare HMAC."""
    from django.conf import settings
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from quickscale.apikeys import tokens
    from quickscale.apikeys.keys import hash_secret, pepper_version

    prefix = settings.QUICKSCALE_APIKEYS_PREFIX
    token = str(tokens.new_token(prefix, "live"))
    parsed = tokens.parse(token, prefix)
    assert parsed is not None
    version = pepper_version()
    stored = hash_secret(parsed.secret, version)
    assert stored is not None
    pepper = b"x" * 32
    pbkdf2_hasher = PBKDF2PasswordHasher()  # Django's default, whatever PASSWORD_HASHERS says
    salt = pbkdf2_hasher.salt()

    def verify() -> bool:
        presented = tokens.parse(token, prefix)
        assert presented is not None
        digest = hash_secret(presented.secret, version)
        return digest is not None and hmac.compare_digest(digest, stored)

    def bare_hmac() -> str:
        return hmac.new(pepper, parsed.secret.encode(), hashlib.sha256).hexdigest()

    steps = {
        "parse + checksum": lambda: tokens.parse(token, prefix),
        "HMAC-SHA256 of the secret": lambda: hash_secret(parsed.secret, version),
        "whole verification": verify,
        "baseline: bare hmac.new": bare_hmac,
    }
    timings = time_interleaved(list(steps.values()), calls, warmup=min(calls, 1000))
    micro = {name: median(times) * 1e6 for name, times in zip(steps, timings, strict=True)}
    pbkdf2_calls = 3 if quick else 20
    pbkdf2 = (
        median(
            time_interleaved([lambda: pbkdf2_hasher.encode(parsed.secret, salt)], pbkdf2_calls)[0]
        )
        * 1e6
    )
    baseline = micro["baseline: bare hmac.new"]
    rows = [[name, f"{value:.1f}", f"{value / baseline:.1f}x"] for name, value in micro.items()]
    rows.append(["Django's PBKDF2 password hash", f"{pbkdf2:,.0f}", f"{pbkdf2 / baseline:,.0f}x"])
    print(f"API key verification, median of {calls:,} calls (microseconds; PBKDF2: {pbkdf2_calls})")
    print(table(["step", "µs", "vs bare hmac"], rows))
    whole = micro["whole verification"]
    print(
        f"verification: {whole:.1f} µs "
        f"(target < {VERIFY_TARGET} µs: {verdict(whole, VERIFY_TARGET, at_least=False)}); "
        f"PBKDF2 would be {pbkdf2 / whole:,.0f} times slower"
    )


# -- 2. with the lookup ----------------------------------------------------------------------


def lookup(calls: int, *, theirs: bool) -> None:
    """Part 2: ``authenticate`` with its query, against djangorestframework-api-key's
    ``is_valid`` when it is installed."""
    from quickscale.apikeys.keys import authenticate

    token = new_key()
    steps: dict[str, Callable[[], object]] = {
        "quickscale: keys.authenticate": lambda: authenticate(token, "127.0.0.1"),
    }
    if theirs:
        their_key = new_their_key()
        steps["djangorestframework-api-key: is_valid"] = lambda: check_their_key(their_key)
    timings = time_interleaved(list(steps.values()), calls, warmup=min(calls, 500))
    micro = {name: median(times) * 1e6 for name, times in zip(steps, timings, strict=True)}
    print(f"Verification with its lookup on PostgreSQL, median of {calls:,} calls (microseconds)")
    print(table(["call", "µs"], [[name, f"{value:.1f}"] for name, value in micro.items()]))
    if not theirs:
        print(
            "djangorestframework-api-key is not installed, so there is nothing to compare with: "
            "uv run --with djangorestframework-api-key python -m benchmarks apikeys"
        )
        return
    ours, other = micro.values()
    ratio = ours / other
    met = verdict(ratio, LOOKUP_TARGET, at_least=False)
    print(f"ours / theirs: {ratio:.2f} (target <= {LOOKUP_TARGET:g}: {met})")


def new_key() -> str:
    """The token of a new key of a new user."""
    from django.contrib.auth import get_user_model

    from quickscale.apikeys.keys import create_key

    owner = get_user_model().objects.create(username=f"bench-{get_user_model().objects.count()}")
    return create_key(owner, "benchmark", scopes=["credits:read"])[1]


def new_their_key() -> str:
    """The key of a new djangorestframework-api-key ``APIKey``."""
    model: Any = importlib.import_module(f"{THEIRS}.models").APIKey
    return str(model.objects.create_key(name="benchmark")[1])


def check_their_key(key: str) -> None:
    """djangorestframework-api-key's check of a presented key, which must pass."""
    model: Any = importlib.import_module(f"{THEIRS}.models").APIKey
    assert model.objects.is_valid(key)


# -- 3. refusals -----------------------------------------------------------------------------


def refusals(calls: int) -> None:
    """Part 3: how long refusing an unknown key id and a wrong secret take (a diagnostic)."""
    from django.conf import settings

    from quickscale.apikeys import tokens
    from quickscale.apikeys.exceptions import AuthenticationFailed
    from quickscale.apikeys.keys import authenticate

    token = new_key()
    body = token[: -tokens.CHECKSUM_LENGTH]
    wrong = body[:-1] + ("A" if body[-1] != "A" else "B")
    wrong += tokens.checksum(wrong)
    unknown = str(tokens.new_token(settings.QUICKSCALE_APIKEYS_PREFIX, "live"))

    def refused(candidate: str) -> Callable[[], None]:
        def call() -> None:
            try:
                authenticate(candidate, "127.0.0.1")
            except AuthenticationFailed:
                return
            raise AssertionError("a bad key was accepted")

        return call

    steps = {"unknown key id": refused(unknown), "wrong secret": refused(wrong)}
    timings = time_interleaved(list(steps.values()), calls, warmup=min(calls, 500))
    micro = {name: median(times) * 1e6 for name, times in zip(steps, timings, strict=True)}
    print(f"Refusing a bad key on PostgreSQL, median of {calls:,} calls (microseconds)")
    print(table(["key", "µs"], [[name, f"{value:.1f}"] for name, value in micro.items()]))
    slow, fast = max(micro.values()), min(micro.values())
    print(f"the slower of the two takes {slow / fast:.2f} times the faster (diagnostic only)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
