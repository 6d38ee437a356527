"""Where the sandbox keeps its Stripe objects.

Objects are plain dicts shaped as the Stripe API returns them, filed by collection (the API
path: ``customers``, ``checkout/sessions``...). Keys starting with ``_`` are the sandbox's own
notes (a session's line items, a charge's id) and are never shown through the API.

A :class:`Store` hands out objects and takes them back: whoever changes one must
:meth:`~Store.save` it, because :class:`DatabaseStore` hands out copies. :class:`MemoryStore`
hands out the stored dicts themselves (a test may change one in place, as Stripe's objects
change between two reads).
"""

from __future__ import annotations

import itertools
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.db import transaction

from quickscale.billing.models import SandboxObject

Data = dict[str, Any]

__all__ = ["DatabaseStore", "MemoryStore", "Store"]


class Store(ABC):
    """The sandbox's Stripe account: objects by collection and id."""

    @abstractmethod
    def load(self, collection: str, stripe_id: str, *, for_update: bool = False) -> Data | None:
        """The object, or ``None``. ``for_update`` locks it until the transaction ends."""

    @abstractmethod
    def save(self, collection: str, data: Data) -> Data:
        """Store ``data`` (new or changed) under its ``id``; returns it."""

    @abstractmethod
    def claim(self, collection: str, data: Data) -> tuple[Data, bool]:
        """Store ``data`` unless an object with its id exists: the stored object, and whether
        it is ``data``. A second claim of an id waits for the first one's transaction."""

    @abstractmethod
    def remove(self, collection: str, stripe_id: str) -> None:
        """Delete the object, if there is one."""

    @abstractmethod
    def objects(self, collection: str) -> list[Data]:
        """Every object of a collection, oldest first."""

    @abstractmethod
    def locate(self, stripe_id: str) -> Data | None:
        """The object with this id, whatever its collection (to expand a reference)."""

    @abstractmethod
    def new_id(self, prefix: str) -> str:
        """A new object id, e.g. ``cus_...``."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """A block whose changes are all kept, or none."""


class MemoryStore(dict[str, dict[str, Data]], Store):
    """Objects in this process's memory, as a dict of dicts (``store["charges"][id]``); ids
    are numbered (``cus_1``, ``cs_test_2``), so a test's objects are the same every run."""

    def __init__(self, collections: Iterable[str] = ()) -> None:
        super().__init__({name: {} for name in collections})
        self.numbers = itertools.count(1)

    def load(self, collection: str, stripe_id: str, *, for_update: bool = False) -> Data | None:
        return self.get(collection, {}).get(stripe_id)

    def save(self, collection: str, data: Data) -> Data:
        self.setdefault(collection, {})[data["id"]] = data
        return data

    def claim(self, collection: str, data: Data) -> tuple[Data, bool]:
        stored = self.setdefault(collection, {}).setdefault(data["id"], data)
        return stored, stored is data

    def remove(self, collection: str, stripe_id: str) -> None:
        self.get(collection, {}).pop(stripe_id, None)

    def objects(self, collection: str) -> list[Data]:
        return list(self.get(collection, {}).values())

    def locate(self, stripe_id: str) -> Data | None:
        for collection in self.values():
            if stripe_id in collection:
                return collection[stripe_id]
        return None

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.numbers)}"

    def transaction(self) -> AbstractContextManager[Any]:
        # The emulator's lock already runs one request at a time.
        return nullcontext()


class DatabaseStore(Store):
    """Objects in the ``SandboxObject`` table (through the ORM), so they outlive the process
    and every process of the site sees the same account."""

    def load(self, collection: str, stripe_id: str, *, for_update: bool = False) -> Data | None:
        rows = SandboxObject.objects.filter(collection=collection, stripe_id=stripe_id)
        if for_update:
            rows = rows.select_for_update()
        found: Data | None = rows.values_list("data", flat=True).first()
        return found

    def save(self, collection: str, data: Data) -> Data:
        SandboxObject.objects.update_or_create(
            stripe_id=data["id"], defaults={"collection": collection, "data": data}
        )
        return data

    def claim(self, collection: str, data: Data) -> tuple[Data, bool]:
        row, created = SandboxObject.objects.select_for_update().get_or_create(
            stripe_id=data["id"], defaults={"collection": collection, "data": data}
        )
        return (data, True) if created else (row.data, False)

    def remove(self, collection: str, stripe_id: str) -> None:
        SandboxObject.objects.filter(collection=collection, stripe_id=stripe_id).delete()

    def objects(self, collection: str) -> list[Data]:
        return list(
            SandboxObject.objects.filter(collection=collection)
            .order_by("pk")
            .values_list("data", flat=True)
        )

    def locate(self, stripe_id: str) -> Data | None:
        found: Data | None = (
            SandboxObject.objects.filter(stripe_id=stripe_id).values_list("data", flat=True).first()
        )
        return found

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(12)}"

    def transaction(self) -> AbstractContextManager[Any]:
        return transaction.atomic()
