"""Signals of the service catalog.

``catalog_changed`` is sent inside the transaction that creates or changes a catalog row
(``services sync``, every ``migrate``, the admin's form, list and enable/disable actions), so a
receiver that writes rows (the audit log) commits or rolls back with the change. Keyword
arguments: ``service`` (the ``Service`` row, as saved), ``created`` (``True`` for a new row),
``changes`` (``{field: [old, new]}`` of the fields that changed; every field for a new row) and
``actor`` (the staff member, or ``None`` when the code changed it).
"""

from __future__ import annotations

from django.dispatch import Signal

catalog_changed = Signal()
