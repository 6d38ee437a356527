"""The services the playground offers, each with its price as a page states it.

A service's price is fixed (the staff's override, or the class's ``cost``) or computed from the
input by ``get_cost``; a computed price is only known once the form is filled in, so the
catalog says where it starts when the service sets ``price_from`` ("from 1 credit"), and
otherwise that the price depends on the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quickscale.services.base import BaseService
from quickscale.services.execution import enabled_services, fixed_price
from quickscale.services.models import Service


@dataclass(frozen=True)
class Offer:
    service: BaseService
    entry: Service
    #: What every run costs, or ``None`` when the price depends on the input.
    price: Decimal | None
    #: The least a run of a computed price costs, when the service says.
    price_from: Decimal | None
    #: False when the service is not configured on this site: listed, but it cannot run.
    available: bool

    @property
    def slug(self) -> str:
        return self.entry.slug

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def description(self) -> str:
        return self.entry.description


def _offer(service: BaseService, entry: Service) -> Offer:
    price = fixed_price(service, entry)
    price_from = None
    if price is None and service.price_from is not None:
        price_from = Decimal(service.price_from)
    return Offer(service, entry, price, price_from, service.is_available())


def offers() -> list[Offer]:
    """Every service that staff have not disabled, by name."""
    return [_offer(service, entry) for service, entry in enabled_services()]


def offer(slug: str) -> Offer | None:
    """The service ``slug``; ``None`` when there is no such service or it is disabled."""
    for service, entry in enabled_services():
        if entry.slug == slug:
            return _offer(service, entry)
    return None
