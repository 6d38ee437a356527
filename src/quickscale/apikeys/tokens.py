"""The token format: ``<prefix>_<env>_<key id>.<secret><checksum>``.

``qs_live_3kTMd9ZqW1bX.<43 characters of secret><6 characters of checksum>``

- ``prefix`` (``QUICKSCALE_APIKEYS_PREFIX``) and ``env`` (``live``/``test``) make a leaked key
  recognisable to people and secret scanners;
- the key id is public and unique: it finds the stored key with one indexed query;
- the secret carries 256 random bits;
- the checksum (CRC32 of everything before it, base62) lets malformed or mistyped keys be
  refused before any query.
"""

from __future__ import annotations

import re
import secrets
import zlib
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_ID_LENGTH = 12
SECRET_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
ENVIRONMENTS = ("live", "test")

#: Matches any quickscale token (for secret scanners); the prefix is 2-16 letters and digits.
TOKEN_PATTERN = (
    r"(?P<prefix>[a-z][a-z0-9]{1,15})_(?P<env>live|test)_(?P<key_id>[0-9A-Za-z]{12})"  # noqa: S105
    r"\.(?P<secret>[0-9A-Za-z]{43})(?P<checksum>[0-9A-Za-z]{6})"
)
TOKEN_RE = re.compile(TOKEN_PATTERN)


@dataclass(frozen=True)
class Token:
    """A token's parts: ``<prefix>_<env>_<key id>.<secret>``, then the checksum of all that
    (``str(token)`` is the full token)."""

    prefix: str
    env: str
    key_id: str
    secret: str

    def __str__(self) -> str:
        body = f"{self.prefix}_{self.env}_{self.key_id}.{self.secret}"
        return body + checksum(body)


def encode(number: int, length: int) -> str:
    """``number`` in base 62 with ``length`` digits (the top ones dropped)."""
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def checksum(body: str) -> str:
    """The checksum that ends a token: the CRC32 of its body, in base 62."""
    return encode(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def random_string(length: int) -> str:
    """``length`` random base-62 characters from the system's secure source."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_token(prefix: str, env: str) -> Token:
    """A new token with a random key id and a random 256-bit secret."""
    return Token(prefix, env, random_string(KEY_ID_LENGTH), random_string(SECRET_LENGTH))


def parse(text: str, prefix: str) -> Token | None:
    """The token in ``text``, or ``None`` when it is malformed, has another prefix or a wrong
    checksum. Costs no query."""
    match = TOKEN_RE.fullmatch(text)
    if match is None or match["prefix"] != prefix:
        return None
    token = Token(match["prefix"], match["env"], match["key_id"], match["secret"])
    body = text[:-CHECKSUM_LENGTH]
    if not secrets.compare_digest(checksum(body), match["checksum"]):
        return None
    return token
