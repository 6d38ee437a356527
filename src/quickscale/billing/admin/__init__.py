"""Billing in the Django admin: what staff need to answer "did this customer pay, and what did
they get?".

Every page is read-only: the rows mirror Stripe and the ledger, and change only through Stripe
(webhooks, ``manage.py billing sync`` and ``reconcile``). Two actions act through the same code
as the webhooks: "Process again" on stored events (a replay) and "Sync from Stripe" on
subscriptions. Payments show their refunds and the credits granted, taken back and short, and
a paid one has a "Refund" page (:mod:`quickscale.billing.admin.refunds`): Stripe makes the
refund, and its webhook takes the credits back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from quickscale.billing import handlers
from quickscale.billing.admin.refunds import RefundPaymentMixin
from quickscale.billing.client import is_enabled, missing_settings
from quickscale.billing.models import (
    Customer,
    EventStatus,
    Payment,
    Price,
    Product,
    Refund,
    RejectedDelivery,
    Subscription,
    WebhookEvent,
)
from quickscale.billing.subscriptions import sync_subscription
from quickscale.core.users import owner_search_fields
from quickscale.credits.admin import ReadOnlyAdmin, credits_column

if TYPE_CHECKING:
    CustomerAdminBase = admin.ModelAdmin[Customer]
    ProductAdminBase = admin.ModelAdmin[Product]
    PriceAdminBase = admin.ModelAdmin[Price]
    SubscriptionAdminBase = admin.ModelAdmin[Subscription]
    PaymentAdminBase = admin.ModelAdmin[Payment]
    RefundAdminBase = admin.ModelAdmin[Refund]
    RefundInlineBase = admin.TabularInline[Refund, Payment]
    EventAdminBase = admin.ModelAdmin[WebhookEvent]
    RejectedAdminBase = admin.ModelAdmin[RejectedDelivery]
else:
    CustomerAdminBase = ProductAdminBase = PriceAdminBase = SubscriptionAdminBase = (
        PaymentAdminBase
    ) = RefundAdminBase = EventAdminBase = RejectedAdminBase = admin.ModelAdmin
    RefundInlineBase = admin.TabularInline


def can_change(request: HttpRequest, model_admin: Any) -> bool:
    """Actions need the model's change permission (the pages themselves are read-only)."""
    opts = model_admin.opts
    return bool(
        request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")
    )


def billing_off(model_admin: Any, request: HttpRequest) -> bool:
    """Tell staff an action needs Stripe, and which settings are missing."""
    if is_enabled():
        return False
    model_admin.message_user(
        request,
        _("Billing is not configured: set %(names)s.") % {"names": ", ".join(missing_settings())},
        messages.ERROR,
    )
    return True


class CustomerAdmin(ReadOnlyAdmin, CustomerAdminBase):
    """Each user's Stripe customer, found by its Stripe id or the user."""

    list_display = ("stripe_id", "user", "created_at")
    list_select_related = ("user",)
    ordering = ("-id",)
    fields = ("user", "stripe_id", "created_at")
    readonly_fields = fields

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["=stripe_id", *owner_search_fields("user")]


class ProductAdmin(ReadOnlyAdmin, ProductAdminBase):
    """The products mirrored from Stripe."""

    list_display = ("name", "stripe_id", "active", "updated_at")
    list_filter = ("active",)
    search_fields = ("name", "=stripe_id")
    ordering = ("name",)
    fields = ("name", "stripe_id", "description", "active", "metadata", "updated_at")
    readonly_fields = fields


class PriceAdmin(ReadOnlyAdmin, PriceAdminBase):
    """The prices mirrored from Stripe, with the credits each sells and whether it is on sale."""

    list_display = (
        "__str__",
        "stripe_id",
        "kind",
        "amount_display",
        "interval_display",
        "price_credits",
        "active",
        "on_sale",
    )
    list_filter = ("kind", "active", "currency")
    list_select_related = ("product",)
    search_fields = ("=stripe_id", "product__name", "nickname", "lookup_key")
    ordering = ("kind", "unit_amount")
    fields = (
        "product",
        "stripe_id",
        "kind",
        "nickname",
        "lookup_key",
        "amount_display",
        "interval_display",
        "price_credits",
        "active",
        "on_sale",
        "metadata",
        "updated_at",
    )
    readonly_fields = fields
    price_credits = credits_column("credits", _("credits"))

    @admin.display(description=_("price"), ordering="unit_amount")
    def amount_display(self, price: Price) -> str:
        return price.amount_display

    @admin.display(description=_("every"))
    def interval_display(self, price: Price) -> str:
        return price.interval_display or "-"

    @admin.display(description=_("on sale"), boolean=True)
    def on_sale(self, price: Price) -> bool:
        return price.on_sale


class SubscriptionAdmin(ReadOnlyAdmin, SubscriptionAdminBase):
    """Subscriptions as Stripe last described them; "Sync from Stripe" re-reads the selected
    ones."""

    list_display = (
        "stripe_id",
        "user",
        "price",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "synced_at",
    )
    list_filter = ("status", "cancel_at_period_end")
    list_select_related = ("user", "price__product")
    ordering = ("-id",)
    fields = (
        "stripe_id",
        "user",
        "customer",
        "price",
        "status",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "cancel_at",
        "canceled_at",
        "ended_at",
        "synced_at",
        "last_event_at",
        "created_at",
    )
    readonly_fields = fields
    actions = ("sync_selected",)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["=stripe_id", "=customer__stripe_id", *owner_search_fields("user")]

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return can_change(request, self)

    @admin.action(description=_("Sync selected subscriptions from Stripe"), permissions=["sync"])
    def sync_selected(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        import stripe

        if billing_off(self, request):
            return
        ids = list(queryset.order_by("pk").values_list("stripe_id", flat=True))
        synced = 0
        for stripe_id in ids:
            try:
                sync_subscription(stripe_id)
            except stripe.StripeError as error:
                # Each sync is its own transaction: those done stay done.
                self.message_user(
                    request,
                    _(
                        "Stripe could not be reached (%(error)s): %(synced)d of %(count)d "
                        "subscription(s) synced. Nothing else changed; try again in a minute."
                    )
                    % {"error": type(error).__name__, "synced": synced, "count": len(ids)},
                    messages.ERROR,
                )
                return
            synced += 1
        self.message_user(
            request,
            ngettext("Synced %(count)d subscription.", "Synced %(count)d subscriptions.", synced)
            % {"count": synced},
            messages.SUCCESS,
        )


class RefundInline(RefundInlineBase):
    """A payment's refunds, on the payment's page."""

    model = Refund
    extra = 0
    can_delete = False
    fields = (
        "stripe_id",
        "amount_display",
        "status",
        "refund_credits",
        "clawed_back",
        "shortfall",
        "stripe_created",
    )
    readonly_fields = fields
    refund_credits = credits_column("credits", _("credits"))
    clawed_back = credits_column("credits_clawed_back", _("taken back"))
    shortfall = credits_column("credits_shortfall", _("shortfall"))

    @admin.display(description=_("amount"))
    def amount_display(self, refund: Refund) -> str:
        return refund.amount_display

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentAdmin(RefundPaymentMixin, ReadOnlyAdmin, PaymentAdminBase):
    """Payments and what they did to the credits (granted, taken back, short), with a "Refund"
    page for a paid one."""

    list_display = (
        "created_at",
        "user",
        "kind",
        "price",
        "amount_display",
        "payment_credits",
        "refunded_display",
        "clawed_back",
        "shortfall",
        "status",
    )
    list_filter = ("status", "kind", "currency")
    list_select_related = ("user", "price__product")
    ordering = ("-id",)
    date_hierarchy = "created_at"
    fields = (
        "user",
        "customer",
        "kind",
        "status",
        "price",
        "subscription",
        "checkout_session_id",
        "invoice_id",
        "payment_intent_id",
        "charge_id",
        "amount_display",
        "refunded_display",
        "payment_credits",
        "grant_entry",
        "credits_expire_at",
        "period_start",
        "period_end",
        "clawed_back",
        "shortfall",
        "failure_message",
        "paid_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (RefundInline,)
    payment_credits = credits_column("credits", _("credits"))
    clawed_back = credits_column("credits_clawed_back", _("taken back"))
    shortfall = credits_column("credits_shortfall", _("shortfall"))

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [
            "=checkout_session_id",
            "=invoice_id",
            "=payment_intent_id",
            "=charge_id",
            *owner_search_fields("user"),
        ]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return payment.amount_display

    @admin.display(description=_("refunded"), ordering="amount_refunded")
    def refunded_display(self, payment: Payment) -> str:
        return payment.refunded_display if payment.amount_refunded else "-"


class RefundAdmin(ReadOnlyAdmin, RefundAdminBase):
    """Refunds and the credits each took back."""

    list_display = (
        "stripe_id",
        "payment",
        "amount_display",
        "status",
        "clawed_back",
        "shortfall",
        "stripe_created",
    )
    list_filter = ("status",)
    list_select_related = ("payment",)
    search_fields = ("=stripe_id", "=payment__checkout_session_id", "=payment__invoice_id")
    ordering = ("-id",)
    fields = (
        "stripe_id",
        "payment",
        "amount_display",
        "status",
        "refund_credits",
        "clawed_back",
        "shortfall",
        "ledger_entry",
        "stripe_created",
        "created_at",
    )
    readonly_fields = fields
    refund_credits = credits_column("credits", _("credits"))
    clawed_back = credits_column("credits_clawed_back", _("taken back"))
    shortfall = credits_column("credits_shortfall", _("shortfall"))

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, refund: Refund) -> str:
        return refund.amount_display


class EventTypeFilter(admin.SimpleListFilter):
    """The handled event types, listed without scanning the table for its distinct types."""

    title = _("type")
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in sorted(handlers.HANDLED_TYPES)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(type=self.value()) if self.value() else queryset


class WebhookEventAdmin(ReadOnlyAdmin, EventAdminBase):
    """The stored Stripe events with their payload; "Process again" replays the selected ones."""

    list_display = (
        "stripe_id",
        "type",
        "status",
        "attempts",
        "created",
        "received_at",
        "processed_at",
    )
    list_filter = ("status", EventTypeFilter, "livemode")
    search_fields = ("=stripe_id", "=object_id")
    ordering = ("-id",)
    fields = (
        "stripe_id",
        "type",
        "object_id",
        "status",
        "note",
        "error",
        "attempts",
        "livemode",
        "api_version",
        "created",
        "received_at",
        "processed_at",
        "pretty_payload",
    )
    readonly_fields = fields
    actions = ("process_again",)

    def has_process_permission(self, request: HttpRequest) -> bool:
        return can_change(request, self)

    @admin.display(description=_("payload"))
    def pretty_payload(self, event: WebhookEvent) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, sort_keys=True))

    @admin.action(description=_("Process selected events again"), permissions=["process"])
    def process_again(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        if billing_off(self, request):
            return
        failed = 0
        count = 0
        for event_id in queryset.order_by("created", "pk").values_list("pk", flat=True):
            count += 1
            if handlers.process(event_id, force=True).status == EventStatus.FAILED:
                failed += 1
        if failed:
            self.message_user(
                request,
                ngettext(
                    "%(failed)d of %(count)d event failed again: see its error.",
                    "%(failed)d of %(count)d events failed again: see their errors.",
                    failed,
                )
                % {"failed": failed, "count": count},
                messages.ERROR,
            )
        else:
            self.message_user(
                request,
                ngettext("Processed %(count)d event.", "Processed %(count)d events.", count)
                % {"count": count},
                messages.SUCCESS,
            )


class RejectedDeliveryAdmin(ReadOnlyAdmin, RejectedAdminBase):
    """Webhook deliveries refused with 400: why, from which address, and their body's digest."""

    list_display = ("received_at", "reason", "ip", "body_size", "detail")
    list_filter = ("reason",)
    search_fields = ("=ip", "=body_sha256")
    ordering = ("-id",)
    fields = ("received_at", "reason", "detail", "ip", "headers", "body_sha256", "body_size")
    readonly_fields = fields


# Registered only with the admin installed: the default site cannot exist without it, and
# this module must still import in a project that leaves the admin out.
if apps.is_installed("django.contrib.admin"):
    admin.site.register(Customer, CustomerAdmin)
    admin.site.register(Product, ProductAdmin)
    admin.site.register(Price, PriceAdmin)
    admin.site.register(Subscription, SubscriptionAdmin)
    admin.site.register(Payment, PaymentAdmin)
    admin.site.register(Refund, RefundAdmin)
    admin.site.register(WebhookEvent, WebhookEventAdmin)
    admin.site.register(RejectedDelivery, RejectedDeliveryAdmin)
