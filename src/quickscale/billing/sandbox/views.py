"""The sandbox's pages: its checkout page, its stand-in for the customer portal, and the
staff's "advance one period". While the sandbox is not active every one of them is a 404.

The checkout page belongs to its buyer alone (anyone else gets 404) and changes nothing the
second time it is submitted; the delivery of its events runs outside ``ATOMIC_REQUESTS``, so
the events are processed as soon as they are stored, as when Stripe delivers them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from quickscale.billing.checkout import SESSION_ID_PLACEHOLDER, live_subscription
from quickscale.billing.exceptions import SandboxError
from quickscale.billing.models import Price, Subscription, format_money
from quickscale.billing.objects import is_stripe_id
from quickscale.billing.sandbox import actions, guard
from quickscale.billing.sandbox.account import Data
from quickscale.billing.views import people_only

__all__ = ["advance", "checkout", "portal"]

View = Callable[..., HttpResponse]


def sandbox_only(view: View) -> View:
    """A 404 while the sandbox is not active: its pages do not exist then."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not guard.is_active():
            raise Http404("The payment sandbox is not active.")
        return view(request, *args, **kwargs)

    return wrapped


def _items(session: Data) -> list[dict[str, Any]]:
    """What a checkout session sells, named as the catalog names it."""
    items = []
    for item in session.get("_line_items") or []:
        data = item["price"]
        price = Price.objects.select_related("product").filter(stripe_id=data["id"]).first()
        recurring = data.get("recurring") or {}
        items.append(
            {
                "name": str(price) if price is not None else data.get("product", ""),
                "quantity": item.get("quantity") or 1,
                "amount": format_money(data.get("unit_amount"), data.get("currency") or ""),
                "interval": price.interval_display if price is not None else "",
                "credits": price.credits if price is not None else None,
                "plan": bool(recurring),
            }
        )
    return items


def _success_url(session: Data) -> str:
    url = session.get("success_url") or reverse("quickscale_billing:checkout_success")
    return str(url).replace(SESSION_ID_PLACEHOLDER, session["id"])


@transaction.non_atomic_requests
@sandbox_only
@people_only
@require_http_methods(["GET", "HEAD", "POST"])
def checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    """The sandbox's checkout page: what is bought, and Pay, Decline or Cancel."""
    session = actions.checkout_session(request.user, session_id)
    if session is None:
        raise Http404("No such checkout session of yours.")
    error, status = "", 200
    if request.method == "POST":
        choice = request.POST.get("action", "")
        if choice == "cancel":
            cancel = session.get("cancel_url") or reverse("quickscale_billing:checkout_canceled")
            return HttpResponseRedirect(cancel, status=303)
        if choice in ("pay", "decline"):
            try:
                actions.complete_checkout(request.user, session_id, paid=choice == "pay")
            except SandboxError as refused:
                # The endpoint refused an event (or the sandbox the request): say so.
                error, status = refused.message, refused.status
            else:
                return HttpResponseRedirect(_success_url(session), status=303)
            session = actions.checkout_session(request.user, session_id) or session
        else:
            error, status = _("Choose Pay, Decline or Cancel."), 400
    context = {
        "session": session,
        "items": _items(session),
        "total": format_money(session.get("amount_total"), session.get("currency") or ""),
        "open": session.get("status") == "open",
        "plan": session.get("mode") == "subscription",
        "success_url": _success_url(session),
        "error": error,
    }
    return render(request, "quickscale/billing/sandbox_checkout.html", context, status=status)


@sandbox_only
@people_only
@require_http_methods(["GET", "HEAD"])
def portal(request: HttpRequest, session_id: str) -> HttpResponse:
    """What the customer portal would be: the sandbox has none, so it points to the site's
    own plan actions."""
    session = actions.portal_session(request.user, session_id)
    if session is None:
        raise Http404("No such portal session of yours.")
    context = {
        "return_url": session.get("return_url") or reverse("quickscale_billing:account"),
        "subscription": live_subscription(request.user),
    }
    return render(request, "quickscale/billing/sandbox_portal.html", context)


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("quickscale_billing:account")


@transaction.non_atomic_requests
@sandbox_only
@never_cache
@login_required
@require_POST
def advance(request: HttpRequest, subscription_id: str) -> HttpResponse:
    """Staff only: move a subscription on by one period (see ``actions.advance_period``),
    then back to ``next``."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can advance the sandbox's clock.")
    if not is_stripe_id(subscription_id):
        raise Http404("No such subscription.")
    subscription = get_object_or_404(Subscription, stripe_id=subscription_id)
    try:
        result = actions.advance_period(subscription)
    except SandboxError as error:
        messages.error(request, error.message, fail_silently=True)
    else:
        if result.ended:
            text = _("The subscription ended at the end of its period.")
        else:
            text = _("The subscription renewed until %(date)s; its credits are on the way.") % {
                "date": f"{result.period_end:%d %b %Y}"
            }
        messages.success(request, text, fail_silently=True)
    return HttpResponseRedirect(_next_url(request), status=303)
