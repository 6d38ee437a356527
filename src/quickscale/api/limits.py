"""The bounds and patterns of the API's parameters and headers, in one place.

The views validate with them and the OpenAPI document publishes them, so the two cannot drift.
Patterns are written for both Python's ``re`` and ECMA-262 (the dialect of JSON Schema).
"""

from __future__ import annotations

#: The largest id a cursor or a run's address may carry: the largest 64-bit primary key.
MAX_ID = 2**63 - 1
#: ``?limit=``: from 1 to ``QUICKSCALE_API_MAX_PAGE_SIZE``, at most this many digits.
LIMIT_MINIMUM = 1
LIMIT_DIGITS = 6
#: ``?cursor=``: an opaque base64url token.
CURSOR_MAX_LENGTH = 64
CURSOR_PATTERN = rf"^[A-Za-z0-9_-]{{1,{CURSOR_MAX_LENGTH}}}$"
#: ``?since=``: a date written ``YYYY-MM-DD``.
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#: ``Idempotency-Key``: 1 to 255 printable ASCII characters.
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IDEMPOTENCY_KEY_PATTERN = rf"^[\u0020-\u007e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}$"
#: A run's id in its address.
RUN_ID_PATTERN = r"^[1-9][0-9]{0,18}$"
