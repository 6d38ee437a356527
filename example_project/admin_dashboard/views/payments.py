"""Payments: every payment, and one payment's page with its refunds and the refund form.

A refund is asked of Stripe (or of the payment sandbox, standing in for it) by
:func:`quickscale.billing.refunds.refund`; its credits are taken back when Stripe's
``charge.refunded`` webhook is processed, not by the request. So the payment's page, reached
with ``?refund=<id>`` after a refund, refreshes itself for a little while until that refund is
recorded, and then shows what it took back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from common.decorators import REFUND_PAYMENTS, staff_permission_required, staff_required
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from admin_dashboard.analytics import Money
from admin_dashboard.forms import PaymentFilterForm, RefundForm
from admin_dashboard.views.common import paginate, query_without
from quickscale.billing.models import Payment
from quickscale.billing.refunds import REFUNDABLE, refund, refundable_amount
from quickscale.core.errors import QuickScaleError

#: The session's record of the refund forms already sent (their tokens), newest last.
SENT_REFUNDS = "admin_dashboard.sent_refunds"
#: How many of them are remembered.
SENT_KEPT = 20
#: Seconds between two refreshes of a payment's page waiting for a refund, and how many.
REFRESH_SECONDS = 1
REFRESH_TRIES = 30


@staff_required
def payment_list(request: HttpRequest) -> HttpResponse:
    form = PaymentFilterForm(request.GET)
    payments = Payment.objects.select_related("user", "price__product")
    if form.is_valid():
        payments = form.filter(payments)
    page = paginate(request, payments.order_by("-created_at", "-pk"))
    return render(
        request,
        "admin_dashboard/payments.html",
        {"form": form, "page": page, "query": query_without(request, "page")},
    )


def _payment(payment_id: int) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related("user", "price__product", "subscription"), pk=payment_id
    )


def _waiting(request: HttpRequest, payment: Payment) -> dict[str, Any] | None:
    """The refund the page waits for (``?refund=<id>&try=<n>``) while its webhook has not been
    processed, with the address of the next refresh (none after the last try)."""
    stripe_id = request.GET.get("refund", "")
    if not stripe_id or payment.refunds.filter(stripe_id=stripe_id).exists():
        return None
    attempt = request.GET.get("try", "0")
    attempt_number = int(attempt) if attempt.isdigit() else REFRESH_TRIES
    refresh = None
    if attempt_number < REFRESH_TRIES:
        refresh = "?" + urlencode({"refund": stripe_id, "try": attempt_number + 1})
    return {"stripe_id": stripe_id, "refresh": refresh, "seconds": REFRESH_SECONDS}


def _payment_page(
    request: HttpRequest, payment: Payment, form: RefundForm | None = None
) -> HttpResponse:
    refundable = payment.status in REFUNDABLE and refundable_amount(payment) > 0
    if refundable and form is None:
        form = RefundForm(payment=payment)
    return render(
        request,
        "admin_dashboard/payment_detail.html",
        {
            "payment": payment,
            "refunds": payment.refunds.order_by("-stripe_created", "-pk"),
            "refundable": Money(refundable_amount(payment), payment.currency)
            if refundable
            else None,
            "form": form if refundable else None,
            "waiting": _waiting(request, payment),
        },
    )


@staff_required
def payment_detail(request: HttpRequest, payment_id: int) -> HttpResponse:
    return _payment_page(request, _payment(payment_id))


@staff_permission_required(REFUND_PAYMENTS)
@require_POST
def refund_payment(request: HttpRequest, payment_id: int) -> HttpResponse:
    """Refund all or part of a payment, once per form.

    Stripe answers a repeated idempotency key with the first refund, so a form sent twice
    refunds once; the session remembers the forms sent, so the second sending says so instead
    of asking Stripe again.
    """
    payment = _payment(payment_id)
    form = RefundForm(request.POST, payment=payment)
    page = reverse("admin_dashboard:payment", args=[payment.pk])
    if form.is_valid():
        sent: list[str] = request.session.get(SENT_REFUNDS, [])
        token = form.cleaned_data["token"]
        if token in sent:
            messages.info(request, _("This form was sent already: no other refund was made."))
            return HttpResponseRedirect(page)
        try:
            made = refund(
                payment,
                form.cleaned_data["amount"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
                idempotency_key=form.idempotency_key,
            )
        except QuickScaleError as error:
            field = error.details.get("field") if isinstance(error.details, dict) else None
            form.add_error(field if field in form.fields else None, error.message)
        else:
            request.session[SENT_REFUNDS] = [*sent, token][-SENT_KEPT:]
            messages.success(
                request,
                _(
                    "Stripe is refunding %(amount)s. The credits it paid for are taken back "
                    "when Stripe confirms the refund."
                )
                % {"amount": Money(made.amount, made.currency)},
            )
            return HttpResponseRedirect(f"{page}?{urlencode({'refund': made.stripe_id})}")
    return _payment_page(request, payment, form)
