"""Services: the catalog with its prices and its last 30 days of runs; staff set a service's
price override and switch it on or off.

A change is written with the row locked and announced with ``announce_change`` in the same
transaction, as the Django admin does, so the audit log records it with the staff member.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from common.decorators import CHANGE_SERVICES, staff_permission_required, staff_required
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from admin_dashboard import analytics
from admin_dashboard.forms import ServicePriceForm
from quickscale.credits.amounts import for_people, quantize
from quickscale.services.exceptions import ServiceNotFound
from quickscale.services.execution import announce_change
from quickscale.services.models import Service
from quickscale.services.registry import registry

#: Days of runs counted per service.
RECENT_DAYS = 30


def own_price(entry: Service) -> tuple[str, bool]:
    """What the service's code charges, for people, and whether it computes it from each
    run's input."""
    try:
        cost = registry.get(entry.slug)().fixed_cost()
    except ServiceNotFound:
        return _("not installed"), False
    if cost is None:
        return _("computed from the input"), True
    return for_people(cost), False


def _catalog_page(
    request: HttpRequest, invalid: tuple[int, ServicePriceForm] | None = None
) -> HttpResponse:
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    rows = []
    for entry, stats in analytics.services_with_stats(since):
        if invalid is not None and invalid[0] == entry.pk:
            form = invalid[1]
        else:
            price = entry.price_override
            form = ServicePriceForm(
                initial={"price_override": "" if price is None else quantize(price)},
                auto_id=f"id_service{entry.pk}_%s",
            )
        label, computed = own_price(entry)
        rows.append(
            {
                "entry": entry,
                "stats": stats,
                "own_price": label,
                "computed": computed,
                "form": form,
            }
        )
    return render(request, "admin_dashboard/services.html", {"rows": rows, "days": RECENT_DAYS})


@staff_required
def catalog(request: HttpRequest) -> HttpResponse:
    return _catalog_page(request)


def _change(request: HttpRequest, entry: Service, field: str, value: Any) -> bool:
    """Set ``field`` of the (locked) row and announce it; ``False`` when it had that value."""
    before = getattr(entry, field)
    shown_before = quantize(before) if isinstance(before, Decimal) else before
    if shown_before == value:
        return False
    setattr(entry, field, value)
    entry.save(update_fields=[field, "updated_at"])
    announce_change(entry, {field: [shown_before, value]}, actor=request.user)
    return True


@staff_permission_required(CHANGE_SERVICES)
@require_POST
def set_price(request: HttpRequest, service_id: int) -> HttpResponse:
    form = ServicePriceForm(request.POST, auto_id=f"id_service{service_id}_%s")
    if not form.is_valid():
        entry = get_object_or_404(Service, pk=service_id)
        return _catalog_page(request, invalid=(entry.pk, form))
    price = form.cleaned_data["price_override"]
    with transaction.atomic():
        entry = get_object_or_404(Service.objects.select_for_update(), pk=service_id)
        changed = _change(request, entry, "price_override", price)
    if not changed:
        messages.info(request, _("%(name)s already had that price.") % {"name": entry.name})
    elif price is None:
        messages.success(
            request,
            _("%(name)s costs its own price again: %(price)s.")
            % {"name": entry.name, "price": own_price(entry)[0]},
        )
    else:
        messages.success(
            request,
            _("%(name)s now costs %(price)s credits a run.")
            % {"name": entry.name, "price": for_people(price)},
        )
    return HttpResponseRedirect(reverse("admin_dashboard:services"))


@staff_permission_required(CHANGE_SERVICES)
@require_POST
def switch(request: HttpRequest, service_id: int) -> HttpResponse:
    """Enable (``enabled=1``) or disable (``enabled=0``) a service."""
    enabled = request.POST.get("enabled") == "1"
    with transaction.atomic():
        entry = get_object_or_404(Service.objects.select_for_update(), pk=service_id)
        changed = _change(request, entry, "enabled", enabled)
    if not changed:
        messages.info(request, _("%(name)s was in that state already.") % {"name": entry.name})
    elif enabled:
        messages.success(request, _("Enabled %(name)s.") % {"name": entry.name})
    else:
        messages.success(
            request, _("Disabled %(name)s: it refuses to run from now on.") % {"name": entry.name}
        )
    return HttpResponseRedirect(reverse("admin_dashboard:services"))
