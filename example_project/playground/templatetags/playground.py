"""``{% load playground %}``: the service catalog on pages outside the playground."""

from __future__ import annotations

from django import template

from playground import catalog

register = template.Library()


@register.simple_tag
def service_offers() -> list[catalog.Offer]:
    """Every service that can run here, by name, with its price (``{% service_offers as x %}``)."""
    return [offer for offer in catalog.offers() if offer.available]
