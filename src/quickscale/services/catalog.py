"""The service catalog: one row per registered service, which staff price and switch on or off
without a deploy, kept in step with the code by :func:`sync_catalog`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from quickscale.core.db import PreparedQuery
from quickscale.credits.amounts import quantize, to_amount
from quickscale.services import signals
from quickscale.services.base import BaseService
from quickscale.services.events import announce_catalog_change
from quickscale.services.models import Service
from quickscale.services.registry import registry

#: The catalog fields announced by ``catalog_changed``.
CATALOG_FIELDS = ("slug", "name", "description", "enabled", "price_override", "registered")


def announce_change(
    entry: Service,
    changes: dict[str, list[Any]],
    *,
    created: bool = False,
    actor: Any = None,
) -> None:
    """Announce a catalog row just written, inside the caller's transaction: through
    ``catalog_changed`` and the core event."""
    if not changes:
        return
    if signals.catalog_changed.has_listeners(Service):
        signals.catalog_changed.send(
            sender=Service, service=entry, created=created, changes=changes, actor=actor
        )
    announce_catalog_change(entry, changes, created=created, actor=actor)


def catalog_entry(service: type[BaseService], using: str = "default") -> Service:
    """The catalog row of a registered service, created on first use."""
    entry = Service.objects.using(using).filter(slug=service.slug).first()
    if entry is not None:
        return entry
    with transaction.atomic(using=using):
        entry, created = Service.objects.using(using).get_or_create(
            slug=service.slug,
            defaults={"name": service.name or service.slug, "description": service.description},
        )
        if created:
            announce_change(
                entry,
                {field: [None, getattr(entry, field)] for field in CATALOG_FIELDS},
                created=True,
            )
    return entry


def sync_catalog(using: str = "default") -> list[Service]:
    """Mirror the registry into the catalog: new services are added, names and descriptions
    follow the code, staff choices (enabled, price) are kept, vanished ones are flagged."""
    slugs = []
    for service in registry.all():
        entry = catalog_entry(service, using)
        name = service.name or service.slug
        wanted = {"name": name, "description": service.description, "registered": True}
        changes = {
            field: [getattr(entry, field), value]
            for field, value in wanted.items()
            if getattr(entry, field) != value
        }
        if changes:
            with transaction.atomic(using=using):
                for field, value in wanted.items():
                    setattr(entry, field, value)
                entry.save(update_fields=[*wanted, "updated_at"])
                announce_change(entry, changes)
        slugs.append(service.slug)
    with transaction.atomic(using=using):
        vanished = list(
            Service.objects.using(using)
            .select_for_update()
            .filter(registered=True)
            .exclude(slug__in=slugs)
        )
        Service.objects.using(using).filter(pk__in=[entry.pk for entry in vanished]).update(
            registered=False, updated_at=timezone.now()
        )
        for entry in vanished:
            entry.registered = False
            announce_change(entry, {"registered": [True, False]})
    return list(Service.objects.using(using).filter(registered=True).order_by("name"))


def enabled_services() -> list[tuple[BaseService, Service]]:
    """Each registered service staff have not disabled, with its catalog row, by name.

    One query; a service deployed since the last ``migrate`` gets its row on the way (the only
    write, once).
    """
    rows = {row.slug: row for row in Service.objects.all()}
    listed = []
    for service in registry.all():
        row = rows.get(service.slug) or catalog_entry(service)
        if row.enabled:
            listed.append((service(), row))
    return sorted(listed, key=lambda pair: pair[1].name)


#: The catalog row by slug, compiled once per connection (a paid run reads it every time).
_BY_SLUG = PreparedQuery(lambda slug: Service.objects.filter(slug=slug).order_by())


def catalog_row(service: type[BaseService]) -> Service:
    """The catalog row of a registered service (made on first use: deployed since the last
    ``migrate``)."""
    entry = _BY_SLUG.first(service.slug)
    return entry if entry is not None else catalog_entry(service)


def fixed_price(service: BaseService, entry: Service) -> Decimal | None:
    """What every run costs here (the staff's override, else the service's fixed cost), or
    ``None`` when the price depends on the input: what a catalog shows."""
    if entry.price_override is not None:
        return quantize(entry.price_override)
    return service.fixed_cost()


def price(service: BaseService, entry: Service, data: dict[str, Any]) -> Decimal:
    """What a run costs: the staff's override, else what the service computes."""
    if entry.price_override is not None:
        return to_amount(quantize(entry.price_override), field="price", allow_zero=True)
    return to_amount(service.get_cost(data), field="cost", allow_zero=True)
