"""Pages anyone can see, signed in or not: the landing page and "about" (pricing is billing's
page, shown at ``/pricing/``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from quickscale.credits import ledger
from quickscale.services.execution import enabled_services

#: How many services the landing page shows, and how many recent entries a signed-in person's
#: balance card lists.
FEATURED_SERVICES = 4
RECENT_ENTRIES = 4


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The landing page; for a signed-in person its balance card is their own."""
    available = [entry for service, entry in enabled_services() if service.is_available()]
    context: dict[str, Any] = {"services": available[:FEATURED_SERVICES]}
    if request.user.is_authenticated:
        context["balance"] = ledger.balance(request.user)
        context["recent"] = ledger.statement(request.user, limit=RECENT_ENTRIES).items
    return render(request, "public/home.html", context)


@require_safe
def about(request: HttpRequest) -> HttpResponse:
    return render(request, "public/about.html")
