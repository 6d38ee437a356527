"""API key verification: the CPU cost of checking a presented token, in microseconds.

Times, with the key already loaded (the one indexed query is the database's part, measured by
the API benchmark), each step ``quickscale.apikeys.keys.authenticate`` takes: parsing the token
and its checksum, the HMAC-SHA256 of the secret and the constant-time comparison — and, as the
baseline in the same run, one bare ``hmac.new(..., sha256)`` of the same secret. For scale it
also times Django's default password hasher (PBKDF2), which some API key libraries run on every
request. Target: verification < 50 µs. Needs no database.
"""

from __future__ import annotations

import hashlib
import hmac
import sys

from benchmarks.common import base_arguments, median, table, time_interleaved, verdict


def main(argv: list[str]) -> int:
    parser = base_arguments("apikeys", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls of each step")
    options = parser.parse_args(argv)
    calls = 200 if options.quick else options.calls

    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="benchmark-secret-key-that-is-long-enough-for-hmac-use",
            INSTALLED_APPS=[
                "django.contrib.auth",
                "django.contrib.contenttypes",
                "quickscale.apikeys",
            ],
            DATABASES={},
            USE_TZ=True,
        )
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password

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
    pbkdf2_calls = 3 if options.quick else 20
    pbkdf2 = median(time_interleaved([lambda: make_password(parsed.secret)], pbkdf2_calls)[0]) * 1e6
    baseline = micro["baseline: bare hmac.new"]
    rows = [[name, f"{value:.1f}", f"{value / baseline:.1f}x"] for name, value in micro.items()]
    rows.append(["Django's PBKDF2 password hash", f"{pbkdf2:,.0f}", f"{pbkdf2 / baseline:,.0f}x"])
    print(f"API key verification, median of {calls:,} calls (microseconds; PBKDF2: {pbkdf2_calls})")
    print(table(["step", "µs", "vs bare hmac"], rows))
    whole = micro["whole verification"]
    print(
        f"verification: {whole:.1f} µs (target < 50 µs: {verdict(whole, 50, at_least=False)}); "
        f"PBKDF2 would be {pbkdf2 / whole:,.0f} times slower"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
