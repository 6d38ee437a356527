"""The audit log in the Django admin: read-only, and fast at millions of events.

Nobody can add, change or delete an event here (the view permission is enough to read them).
The changelist never counts the whole table: up to ``EXACT_COUNT_LIMIT`` matching events are
counted exactly, and beyond that PostgreSQL's estimate is shown (``pg_class.reltuples`` for the
whole log, the planner's row estimate for a filtered one). Every filter and the search box use
an indexed column, and large JSON columns are read only on an event's own page.

This module also makes Django's site-wide "Delete selected" action record an
``admin.deletion`` event for each object it deletes: Django writes those log entries in bulk,
which sends no ``post_save`` signal for the audit log to mirror.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from quickscale.audit.log import Target, captures, record
from quickscale.audit.models import AuditEvent

if TYPE_CHECKING:
    AuditEventAdminBase = admin.ModelAdmin[AuditEvent]
    PaginatorBase = Paginator[Any]
else:
    AuditEventAdminBase = admin.ModelAdmin
    PaginatorBase = Paginator

#: Matching events counted exactly; past this the count is PostgreSQL's estimate.
EXACT_COUNT_LIMIT = 10_000
#: The action families the admin filters by (each an indexed prefix search).
ACTION_FAMILIES = ("admin", "apikey", "audit", "auth", "billing", "credits", "row", "services")


class EstimatedCountPaginator(PaginatorBase):
    """A paginator that never counts more than ``EXACT_COUNT_LIMIT`` rows on PostgreSQL."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return queryset.count()
        exact = queryset.order_by()[: EXACT_COUNT_LIMIT + 1].count()
        if exact <= EXACT_COUNT_LIMIT:
            return exact
        return max(_estimate(queryset), exact)


def _estimate(queryset: QuerySet[Any]) -> int:
    connection = connections[queryset.db]
    if not queryset.query.where:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
        if row is not None and row[0] > 0:
            return int(row[0])
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class ActionFamilyFilter(admin.SimpleListFilter):
    """Events of one action family (``credits.*``), found by an indexed prefix search."""

    title = _("action")
    parameter_name = "family"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(family, f"{family}.*") for family in ACTION_FAMILIES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in ACTION_FAMILIES:
            return queryset.filter(action__startswith=f"{value}.")
        return queryset


class OccurredFilter(admin.SimpleListFilter):
    """Recent events only; ``date_hierarchy`` would scan the whole table for its links."""

    title = _("occurred")
    parameter_name = "within"
    PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("1h", _("Last hour")), ("24h", _("Last 24 hours")), ("7d", _("Last 7 days"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        period = self.PERIODS.get(self.value() or "")
        if period is None:
            return queryset
        return queryset.filter(occurred_at__gte=timezone.now() - period)


class SealedFilter(admin.SimpleListFilter):
    """Events already sealed into the hash chain, or not yet."""

    title = _("sealed")
    parameter_name = "sealed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", _("Not yet sealed")), ("yes", _("Sealed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(row_hash=None)
        if self.value() == "yes":
            return queryset.filter(row_hash__isnull=False)
        return queryset


class AuditEventAdmin(AuditEventAdminBase):
    """The audit log, read-only and newest first: exact searches on indexed columns, and past
    :data:`EXACT_COUNT_LIMIT` matching events a count that is PostgreSQL's estimate."""

    list_display = (
        "id",
        "occurred_at",
        "action",
        "outcome",
        "actor",
        "target",
        "ip",
        "sealed_mark",
    )
    list_display_links = ("id", "occurred_at")
    list_filter = (ActionFamilyFilter, OccurredFilter, SealedFilter)
    # The search is exact and on indexed columns only: see get_search_results.
    search_fields = ("actor_id", "target_id", "request_id", "action")
    search_help_text = _(
        "An exact actor id, target id, request id or action (e.g. apikey.revoked)."
    )
    ordering = ("-id",)
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "id",
        "occurred_at",
        "action",
        "outcome",
        "actor_type",
        "actor_id",
        "actor_repr",
        "api_key_id",
        "ip",
        "user_agent",
        "request_id",
        "target_type",
        "target_id",
        "target_repr",
        "changes_json",
        "metadata_json",
        "chain_position",
        "prev_hash",
        "row_hash",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return super().get_queryset(request).defer("changes", "metadata", "user_agent")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent], search_term: str
    ) -> tuple[QuerySet[AuditEvent], bool]:
        """Exact matches (Django's own search is case-insensitive, which no index serves)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(
            Q(actor_id=term) | Q(target_id=term) | Q(request_id=term) | Q(action=term)
        ), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("actor"), ordering="actor_id")
    def actor(self, event: AuditEvent) -> str:
        if not event.actor_type:
            return "-"
        who = event.actor_repr or event.actor_id
        if event.api_key_id:
            return f"{who} (API key {event.api_key_id})"
        return f"{who} ({event.get_actor_type_display()})"

    @admin.display(description=_("target"), ordering="target_id")
    def target(self, event: AuditEvent) -> str:
        if not event.target_type:
            return "-"
        return f"{event.target_type} {event.target_id}: {event.target_repr}".rstrip(": ")

    @admin.display(description=_("sealed"), boolean=True)
    def sealed_mark(self, event: AuditEvent) -> bool:
        return event.sealed

    @admin.display(description=_("changes"))
    def changes_json(self, event: AuditEvent) -> SafeString:
        return _pretty(event.changes)

    @admin.display(description=_("metadata"))
    def metadata_json(self, event: AuditEvent) -> SafeString:
        return _pretty(event.metadata)


def _pretty(document: Any) -> SafeString:
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    return format_html('<pre style="margin: 0">{}</pre>', text)


@admin.action(description=_("Delete selected %(verbose_name_plural)s"), permissions=["delete"])
def delete_selected(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    """Django's "Delete selected", recording an ``admin.deletion`` event per object deleted
    when there are several (a single one is logged, and mirrored, like any other change)."""
    confirmed = bool(request.POST.get("post"))
    with transaction.atomic(using=queryset.db):
        selected = [(obj.pk, str(obj)) for obj in queryset] if confirmed else []
        response = django_delete_selected(modeladmin, request, queryset)
        if response is None and len(selected) > 1 and captures("admin.deletion"):
            label = modeladmin.opts.label_lower
            for pk, text in selected:
                record(
                    "admin.deletion",
                    actor=request.user,
                    target=Target(label, str(pk), text[:200]),
                    metadata={"change_message": ""},
                    using=queryset.db,
                )
    return response


# Registered only with the admin installed: the default site cannot exist without it, and
# this module must still import in a project that leaves the admin out.
if apps.is_installed("django.contrib.admin"):
    admin.site.register(AuditEvent, AuditEventAdmin)
    admin.site.add_action(delete_selected, "delete_selected")
