"""Signals sent inside the transaction that changes a key, so a receiver that writes rows (the
audit log) commits or rolls back with the change. ``sender`` is ``APIKey``.

``api_key_created``
    ``key`` (the new key) and ``by`` (the user who made it, or ``None``). A key made by rolling
    another is announced by ``api_key_rolled`` only.
``api_key_rolled``
    ``key`` (the new key), ``previous`` (the key it replaces, now expiring at the end of its
    grace period) and ``by``.
``api_key_revoked``
    ``key``, ``by`` and ``reason``. Revoking a key that is already revoked sends nothing.
"""

from __future__ import annotations

from django.dispatch import Signal

api_key_created = Signal()
api_key_rolled = Signal()
api_key_revoked = Signal()
