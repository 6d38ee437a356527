"""The admin's "Refund" page of a payment: staff refund it in full or in part, with a reason,
through :func:`quickscale.billing.refunds.refund` (Stripe makes the refund; its
``charge.refunded`` event takes the credits back)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from quickscale.billing.exceptions import BillingError, RefundRefused, StripeUnavailable
from quickscale.billing.forms import RefundForm
from quickscale.billing.models import Payment, format_money
from quickscale.billing.refunds import REFUNDABLE, refund, refundable_amount

__all__ = ["RefundPaymentMixin"]

if TYPE_CHECKING:
    PaymentAdminBase = admin.ModelAdmin[Payment]
else:
    PaymentAdminBase = admin.ModelAdmin


class RefundPaymentMixin(PaymentAdminBase):
    """For the payment admin: a "Refund" button on a refundable payment and its page."""

    refund_template = "admin/quickscale_billing/payment/refund.html"

    def has_refund_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Refunding needs the payment's change permission (its page is read-only)."""
        opts = self.opts
        return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name=f"{opts.app_label}_{opts.model_name}_refund",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # get_object() answers None for an id that is not one (Django's own page then says so).
        payment = self.get_object(request, unquote(object_id)) if object_id else None
        context = {
            "can_refund": payment is not None
            and payment.status in REFUNDABLE
            and self.has_refund_permission(request),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Refund" page: on a valid form, ask Stripe for the refund and go back to the
        payment; a refusal or Stripe's failure is shown on the form."""
        if not self.has_refund_permission(request):
            raise PermissionDenied
        payment = self.get_object(request, unquote(object_id))
        if payment is None:
            return HttpResponseRedirect(self._url("changelist"))
        status = 200
        if request.method == "POST":
            form = RefundForm(request.POST, currency=payment.currency)
            if form.is_valid():
                try:
                    made = refund(
                        payment,
                        form.cleaned_data["amount"],
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                        idempotency_key=form.idempotency_key,
                    )
                except RefundRefused as error:
                    field = "amount" if error.code == "refund_amount_invalid" else None
                    form.add_error(field, error.message)
                except BillingError as error:
                    # Stripe failed (502), or the sandbox's webhook refused the event.
                    form.add_error(None, error.message)
                    status = error.status if isinstance(error, StripeUnavailable) else 502
                else:
                    self.message_user(
                        request,
                        _(
                            "Refund %(refund)s of %(amount)s requested. The credits it pays "
                            "back are taken when Stripe confirms it (charge.refunded)."
                        )
                        % {
                            "refund": made.stripe_id,
                            "amount": format_money(made.amount, made.currency),
                        },
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(self._url("change", payment.pk))
        else:
            form = RefundForm(currency=payment.currency)
        opts = self.opts
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund"),
            "subtitle": str(payment),
            "opts": opts,
            "app_label": opts.app_label,
            "original": payment,
            "payment": payment,
            "left": format_money(refundable_amount(payment), payment.currency),
            "form": form,
            "media": form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.refund_template, context, status=status)

    def _url(self, view: str, *args: Any) -> str:
        opts = self.opts
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_{view}",
            args=args,
            current_app=self.admin_site.name,
        )
