"""Billing pages: pricing, checkout and its return pages, and the person's payments.

Every URL exists whether billing is configured or not, so ``{% url %}`` never fails. Without the
Stripe settings the pricing page lists the catalog as unavailable and "my billing" shows past
records, while the pages that would talk to Stripe render ``quickscale/billing/not_configured.html``
with status 503 (the feature is unavailable, not the page missing); nothing raises.

The views hold no billing logic: they call :mod:`quickscale.billing.checkout` and show what it
returns. The success page never grants credits; only verified webhooks do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from quickscale.billing import checkout
from quickscale.billing.client import is_enabled, missing_settings, sandbox_active
from quickscale.billing.exceptions import BillingError, StripeUnavailable
from quickscale.billing.models import Payment, Price, PriceKind, Refund
from quickscale.billing.webhooks import stripe_webhook

__all__ = [
    "account",
    "cancel_plan",
    "change_plan",
    "checkout_canceled",
    "checkout_success",
    "pricing",
    "resume_plan",
    "start_checkout",
    "stripe_webhook",
]

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
#: How often the success page reloads itself while the order is still being confirmed, and how
#: many times at most (about a minute) before it says the confirmation is late.
SUCCESS_REFRESH_SECONDS = 2
SUCCESS_REFRESH_TIMES = 30


def not_configured(request: HttpRequest) -> HttpResponse:
    """The page every Stripe-backed view shows while billing is off (503). Staff see which
    settings are missing."""
    context = {"missing": missing_settings() if request.user.is_staff else []}
    return render(request, "quickscale/billing/not_configured.html", context, status=503)


def people_only(view: View) -> View:
    """Signed in, never cached, and refused to a request authenticated by an API key (a key
    must not be able to spend its owner's money)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "auth", None) is not None:
            raise PermissionDenied(_("Billing is managed by people signed in, not by API keys."))
        return view(request, *args, **kwargs)

    return never_cache(login_required(wrapped))


def billing_enabled(view: View) -> View:
    """Show the "billing is not configured" page instead of ``view`` while billing is off."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_enabled():
            return not_configured(request)
        return view(request, *args, **kwargs)

    return wrapped


def pricing_url() -> str:
    """The pricing page's address."""
    return reverse("quickscale_billing:pricing")


def stripe_unavailable(request: HttpRequest, error: StripeUnavailable) -> HttpResponse:
    """The page of every Stripe-backed view while Stripe cannot be reached or fails (502):
    nothing was charged, nothing changed, try again. Staff see what Stripe answered."""
    context = {"error": error if request.user.is_staff else None}
    return render(request, "quickscale/billing/stripe_unavailable.html", context, status=502)


def refused(request: HttpRequest, error: BillingError, back_to: str = "") -> HttpResponse:
    """The answer to an operation that did not happen: Stripe failing is the 502 page; an
    operation refused for a reason the person can act on is reported where they started it
    (``back_to``, the pricing page by default)."""
    if isinstance(error, StripeUnavailable):
        return stripe_unavailable(request, error)
    messages.error(request, error.message, fail_silently=True)
    return HttpResponseRedirect(back_to or pricing_url(), status=303)


@dataclass(frozen=True)
class Offer:
    """A price on the pricing page, and what the person's plan makes of it."""

    price: Price
    #: The person's current plan.
    current: bool = False
    #: Switching to this plan is an upgrade (else a downgrade), for someone with a plan.
    upgrade: bool = False


@never_cache
@require_safe
def pricing(
    request: HttpRequest, template_name: str = "quickscale/billing/pricing.html"
) -> HttpResponse:
    """Packs and plans on sale; while billing is off, the catalog shown as unavailable.

    A host that adds to the page routes it with its own ``template_name`` (say
    ``path("pricing/", pricing, {"template_name": "pricing.html"})``), a template extending
    ``quickscale/billing/pricing.html`` that fills its ``pricing_after`` block.
    """
    subscription = (
        checkout.live_subscription(request.user) if request.user.is_authenticated else None
    )
    offers = [
        Offer(
            price,
            current=subscription is not None and subscription.price_id == price.pk,
            upgrade=subscription is not None and checkout.is_upgrade(subscription.price, price),
        )
        for price in Price.objects.on_sale().select_related("product")
    ]
    context = {
        "enabled": is_enabled(),
        "packs": [offer for offer in offers if offer.price.kind == PriceKind.PACK],
        "plans": [offer for offer in offers if offer.price.kind == PriceKind.PLAN],
        "subscription": subscription,
        "login_url": f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.path})}",
        # For a host template that adds Stripe.js (pricing tables, Elements).
        "stripe_publishable_key": settings.QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY,
    }
    return render(request, template_name, context)


@people_only
@require_POST
@billing_enabled
def start_checkout(request: HttpRequest) -> HttpResponse:
    """Send the person to Stripe Checkout for the price they chose."""
    success = request.build_absolute_uri(reverse("quickscale_billing:checkout_success"))
    try:
        url = checkout.start_checkout(
            request.user,
            request.POST.get("price", ""),
            success_url=f"{success}?session_id={checkout.SESSION_ID_PLACEHOLDER}",
            cancel_url=request.build_absolute_uri(reverse("quickscale_billing:checkout_canceled")),
        )
    except BillingError as error:
        return refused(request, error)
    return HttpResponseRedirect(url, status=303)


@people_only
@require_safe
@billing_enabled
def checkout_success(request: HttpRequest) -> HttpResponse:
    """Where Stripe sends the buyer back: what we know of the order so far, reloading itself
    while the webhook has not settled it. Reloading it, or opening it with someone else's
    session id, grants nothing and shows nothing of theirs."""
    session_id = request.GET.get("session_id", "")
    try:
        status = checkout.checkout_status(request.user, session_id) if session_id else None
    except StripeUnavailable as error:
        return stripe_unavailable(request, error)
    if status is None:
        raise Http404("No such checkout session of yours.")
    # The page reloads itself a bounded number of times: a site whose task worker is not
    # running must not leave the buyer's browser reloading for ever.
    waited = request.GET.get("waited", "")
    times = int(waited) if waited.isdigit() and len(waited) < 4 else 0
    refresh_url = ""
    if status.waiting and times < SUCCESS_REFRESH_TIMES:
        refresh_url = "?" + urlencode({"session_id": session_id, "waited": str(times + 1)})
    return render(
        request,
        "quickscale/billing/checkout_success.html",
        {
            "status": status,
            "refresh_seconds": SUCCESS_REFRESH_SECONDS,
            "refresh_url": refresh_url,
            "gave_up": status.waiting and not refresh_url,
        },
    )


@people_only
@require_safe
def checkout_canceled(request: HttpRequest) -> HttpResponse:
    """Where Stripe sends a buyer who left the checkout: nothing was charged."""
    return render(request, "quickscale/billing/checkout_canceled.html")


@people_only
@require_safe
def account(request: HttpRequest) -> HttpResponse:
    """The person's plan, payments and refunds (shown even while billing is off)."""
    payments = list(
        Payment.objects.filter(user=request.user)
        .select_related("price__product")
        .order_by("-created_at", "-pk")[:100]
    )
    context = {
        "enabled": is_enabled(),
        "sandbox": sandbox_active(),
        "subscription": checkout.live_subscription(request.user),
        "payments": payments,
        "refunds": list(
            Refund.objects.filter(payment__user=request.user)
            .select_related("payment")
            .order_by("-stripe_created", "-pk")[:100]
        ),
    }
    return render(request, "quickscale/billing/account.html", context)


@people_only
@require_POST
@billing_enabled
def portal(request: HttpRequest) -> HttpResponse:
    """Send the person to their Stripe Customer Portal."""
    try:
        url = checkout.portal_url(
            request.user, request.build_absolute_uri(reverse("quickscale_billing:account"))
        )
    except BillingError as error:
        return refused(request, error, reverse("quickscale_billing:account"))
    return HttpResponseRedirect(url, status=303)


@people_only
@require_POST
@billing_enabled
def change_plan(request: HttpRequest) -> HttpResponse:
    """Move the person's plan to the posted price, and say whether it applies now or once its
    payment is made."""
    try:
        subscription = checkout.change_plan(request.user, request.POST.get("price", ""))
    except BillingError as error:
        return refused(request, error)
    messages.success(
        request,
        _("Your plan is now %(plan)s.") % {"plan": subscription.price}
        if subscription.price and subscription.price.stripe_id == request.POST.get("price")
        else _("Your plan change is waiting for its payment."),
        fail_silently=True,
    )
    return HttpResponseRedirect(reverse("quickscale_billing:account"), status=303)


@people_only
@require_POST
@billing_enabled
def cancel_plan(request: HttpRequest) -> HttpResponse:
    """End the person's plan at the end of its period."""
    try:
        subscription = checkout.set_cancel_at_period_end(request.user, True)
    except BillingError as error:
        return refused(request, error)
    end = subscription.current_period_end
    messages.success(
        request,
        _("Your plan ends on %(date)s; it will not renew.") % {"date": f"{end:%d %b %Y}"}
        if end
        else _("Your plan will not renew."),
        fail_silently=True,
    )
    return HttpResponseRedirect(reverse("quickscale_billing:account"), status=303)


@people_only
@require_POST
@billing_enabled
def resume_plan(request: HttpRequest) -> HttpResponse:
    """Undo a cancellation: the plan renews as usual."""
    try:
        checkout.set_cancel_at_period_end(request.user, False)
    except BillingError as error:
        return refused(request, error)
    messages.success(request, _("Your plan will renew as usual."), fail_silently=True)
    return HttpResponseRedirect(reverse("quickscale_billing:account"), status=303)
