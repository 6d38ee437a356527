"""Exporting events as JSON Lines or CSV, oldest first, read in keyset batches so an export of
millions of events holds a few thousand in memory at a time.

JSON Lines is lossless: one JSON object per event, ``changes`` and ``metadata`` as objects, and
the hash columns, so an export can be checked against the chain later. In CSV those two columns
hold JSON text, and a cell that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from quickscale.audit.chain import HASHED_FIELDS
from quickscale.audit.models import AuditEvent

__all__ = ["FIELDS", "FORMATS", "csv_lines", "events", "jsonl_lines"]

#: Every column of an event: those its hash covers, and the hash.
FIELDS = (*HASHED_FIELDS, "row_hash")
FORMATS = ("jsonl", "csv")
BATCH = 2000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def events(queryset: QuerySet[AuditEvent]) -> Iterator[dict[str, Any]]:
    """The events of ``queryset`` as dicts of ``FIELDS``, in id order."""
    after = 0
    while True:
        rows = list(queryset.filter(id__gt=after).order_by("id").values(*FIELDS)[:BATCH])
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1]["id"]


def jsonl_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The rows as JSON Lines: one JSON object per event, each on its own line."""
    for row in rows:
        yield json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False) + "\n"


def csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The rows as CSV, the header first, then a line per event (see the module docstring for
    the JSON columns and the cells that could be formulas)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    yield _drain(buffer)
    for row in rows:
        writer.writerow([_cell(row[name]) for name in FIELDS])
        yield _drain(buffer)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
