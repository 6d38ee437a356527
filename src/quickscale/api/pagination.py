"""Cursor pagination of list endpoints: ``?limit=`` and an opaque ``?cursor=``.

A cursor is the id of the last item of the previous page, tagged with the list it belongs to and
base64url-encoded. It is opaque so the encoding may change; it needs no signature, because every
list is filtered by its owner on the server whatever the cursor says.
"""

from __future__ import annotations

import base64
import binascii
import re

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext

from quickscale.api.errors import InvalidParameter
from quickscale.api.limits import CURSOR_PATTERN, LIMIT_DIGITS, LIMIT_MINIMUM, MAX_ID

__all__ = ["MAX_ID", "decode_cursor", "encode_cursor", "limit_schema", "page_size"]

_DIGITS = re.compile(rf"[0-9]{{1,{LIMIT_DIGITS}}}")
_CURSOR = re.compile(CURSOR_PATTERN)


def limit_schema() -> dict[str, int | str]:
    """The JSON Schema of ``?limit=``, with the maximum the site's settings give now."""
    return {
        "type": "integer",
        "minimum": LIMIT_MINIMUM,
        "maximum": int(settings.QUICKSCALE_API_MAX_PAGE_SIZE),
        "default": int(settings.QUICKSCALE_API_PAGE_SIZE),
    }


def page_size(request: HttpRequest) -> int:
    """``?limit=``: from 1 to ``QUICKSCALE_API_MAX_PAGE_SIZE``, ``QUICKSCALE_API_PAGE_SIZE`` when
    absent."""
    maximum = settings.QUICKSCALE_API_MAX_PAGE_SIZE
    raw = request.GET.get("limit")
    if raw is None:
        return int(settings.QUICKSCALE_API_PAGE_SIZE)
    if not _DIGITS.fullmatch(raw) or not LIMIT_MINIMUM <= int(raw) <= maximum:
        raise InvalidParameter(
            gettext("limit must be an integer from 1 to %(maximum)s.") % {"maximum": maximum},
            details={"parameter": "limit", "maximum": maximum},
        )
    return int(raw)


def encode_cursor(kind: str, position: int) -> str:
    """The opaque cursor of the page after ``position`` in a list of ``kind``."""
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode_cursor(request: HttpRequest, kind: str) -> int | None:
    """The position ``?cursor=`` carries for a list of ``kind``; ``None`` for the first page."""
    raw = request.GET.get("cursor")
    if raw is None:
        return None
    position = None
    if _CURSOR.fullmatch(raw):
        try:
            text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError):
            text = ""
        match = re.fullmatch(rf"{re.escape(kind)}:([1-9][0-9]{{0,18}})", text)
        if match and int(match[1]) <= MAX_ID:
            position = int(match[1])
    if position is None:
        raise InvalidParameter(
            gettext(
                "cursor is not a cursor of this list: pass the next_cursor of a previous page."
            ),
            details={"parameter": "cursor"},
        )
    return position
