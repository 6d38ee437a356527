"""The service catalog and the run history in the Django admin.

Catalog rows come from the registered classes (``services sync`` and every ``migrate`` add
them), so staff cannot add or delete them here: they switch services on and off and override
their price, which takes effect on the next run. Runs are read-only: they are written by
:func:`quickscale.services.execution.execute` alone, together with their ledger entries. Both
changelists run a fixed number of queries whatever the number of rows.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Field, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from quickscale.core.users import owner_search_fields
from quickscale.credits.admin import ReadOnlyAdmin, credits_column, shown
from quickscale.credits.amounts import to_amount
from quickscale.credits.exceptions import InvalidAmount
from quickscale.services import execution
from quickscale.services.base import BaseService
from quickscale.services.exceptions import ServiceNotFound
from quickscale.services.models import Service, ServiceRun
from quickscale.services.registry import registry

if TYPE_CHECKING:
    ServiceAdminBase = admin.ModelAdmin[Service]
    ServiceRunAdminBase = admin.ModelAdmin[ServiceRun]
else:
    ServiceAdminBase = ServiceRunAdminBase = admin.ModelAdmin


#: The catalog fields staff change here.
STAFF_FIELDS = ("enabled", "price_override")


def validate_price(value: Decimal | None) -> None:
    """A price the ledger accepts: the configured decimal places, not over the maximum.

    The column stores eight places, so without this an override of 1.005 would be saved and
    then refused by every run of the service.
    """
    if value is None:
        return
    try:
        to_amount(value, field="price", allow_zero=True)
    except InvalidAmount as error:
        raise ValidationError(error.message, code=error.code) from None


def service_class(entry: Service) -> type[BaseService] | None:
    """The class registered for a catalog entry, or ``None`` when its code is gone."""
    try:
        return registry.get(entry.slug)
    except ServiceNotFound:
        return None


class ServiceAdmin(ServiceAdminBase):
    """The catalog: staff switch services on and off and override their price, which takes
    effect on the next run; each change is announced like an edit."""

    list_display = (
        "name",
        "slug",
        "default_price",
        "enabled",
        "price_override",
        "registered",
    )
    list_display_links = ("name",)
    list_editable = ("enabled", "price_override")
    list_filter = ("enabled", "registered")
    search_fields = ("name", "slug")
    ordering = ("name",)
    actions = ("enable", "disable")
    fields = (
        "slug",
        "name",
        "description",
        "default_price",
        "enabled",
        "price_override",
        "registered",
        "runs",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "slug",
        "name",
        "description",
        "default_price",
        "registered",
        "runs",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Runs point at their service; a removed app's services stay, flagged unregistered.
        return False

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "price_override" and formfield is not None:
            formfield.validators.append(validate_price)
        return formfield

    @admin.display(description=_("default price"))
    def default_price(self, entry: Service) -> str:
        """What the code charges when no override is set."""
        service = service_class(entry)
        if service is None:
            return "-"
        cost = service().fixed_cost()
        if cost is None:
            return str(_("computed from the input"))
        return str(shown(cost))

    @admin.display(description=_("runs"))
    def runs(self, entry: Service) -> SafeString:
        opts = ServiceRun._meta
        url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_changelist",
            current_app=self.admin_site.name,
        )
        return format_html('<a href="{}?service__id__exact={}">{}</a>', url, entry.pk, _("Runs"))

    @admin.action(description=_("Enable the selected services"), permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._switch(request, queryset, enabled=True)

    @admin.action(description=_("Disable the selected services"), permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._switch(request, queryset, enabled=False)

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        """Save (the change form and the editable list both come here, in a transaction) and
        announce what staff changed."""
        before = Service.objects.filter(pk=obj.pk).values(*STAFF_FIELDS).first() if change else None
        super().save_model(request, obj, form, change)
        if before is not None:
            execution.announce_change(
                obj,
                {
                    field: [before[field], getattr(obj, field)]
                    for field in STAFF_FIELDS
                    if before[field] != getattr(obj, field)
                },
                actor=request.user,
            )

    def _switch(self, request: HttpRequest, queryset: QuerySet[Service], *, enabled: bool) -> None:
        # The catalog is small: each change is logged like an edit made on the form.
        with transaction.atomic():
            changing = list(queryset.select_for_update().exclude(enabled=enabled))
            Service.objects.filter(pk__in=[entry.pk for entry in changing]).update(
                enabled=enabled, updated_at=timezone.now()
            )
            for entry in changing:
                entry.enabled = enabled
                execution.announce_change(
                    entry, {"enabled": [not enabled, enabled]}, actor=request.user
                )
                # The message the change form would log, translated when the history is shown.
                self.log_change(request, entry, [{"changed": {"fields": ["Enabled"]}}])
        count = len(changing)
        if enabled:
            message = ngettext(
                "Enabled %(count)d service.", "Enabled %(count)d services.", count
            ) % {"count": count}
        else:
            message = ngettext(
                "Disabled %(count)d service: it refuses to run from now on.",
                "Disabled %(count)d services: they refuse to run from now on.",
                count,
            ) % {"count": count}
        self.message_user(request, message, messages.SUCCESS)


class ModeFilter(admin.SimpleListFilter):
    """The two modes, listed without the ``SELECT DISTINCT`` over every run that a plain
    field filter would run."""

    title = _("mode")
    parameter_name = "mode"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("held", _("held")), ("inline", _("inline"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset if value is None else queryset.filter(mode=value)


class ServiceRunAdmin(ReadOnlyAdmin, ServiceRunAdminBase):
    """The runs, read-only: who ran which service, how it ended, what it cost and returned."""

    list_display = (
        "id",
        "user",
        "service",
        "status",
        "mode",
        "cost_credits",
        "duration_ms",
        "created_at",
    )
    list_filter = ("status", ModeFilter, "service")
    list_select_related = ("user", "service")
    ordering = ("-id",)
    fields = (
        "user",
        "service",
        "status",
        "mode",
        "reserved_credits",
        "cost_credits",
        "hold",
        "charge",
        "idempotency_key",
        "input_digest",
        "output_json",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "duration_ms",
    )
    readonly_fields = fields
    reserved_credits = credits_column("reserved", _("reserved"))
    cost_credits = credits_column("cost", _("cost"))

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [*owner_search_fields("user", "="), "=idempotency_key"]

    @admin.display(description=_("output"))
    def output_json(self, run: ServiceRun) -> SafeString:
        if run.output is None:
            return format_html("<span>{}</span>", "-")
        return format_html(
            "<pre>{}</pre>",
            json.dumps(run.output, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder),
        )


# Registered only with the admin installed: the default site cannot exist without it, and
# this module must still import in a project that leaves the admin out.
if apps.is_installed("django.contrib.admin"):
    admin.site.register(Service, ServiceAdmin)
    admin.site.register(ServiceRun, ServiceRunAdmin)
