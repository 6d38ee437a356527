"""The staff page of the audit log: search by actor, target, action and time, newest first,
and export what a search found.

Only active staff members with the ``quickscale_audit.view_auditevent`` permission (superusers
have it) may look: visitors are sent to ``LOGIN_URL``, anyone else signed in gets 403. Pages are
keyset-paginated (``before`` is the id of the last event shown), so the hundredth page costs what
the first does. Every export is itself recorded as an ``audit.exported`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from quickscale.audit import export as exporting
from quickscale.audit.log import record
from quickscale.audit.models import AuditEvent
from quickscale.audit.search import EventFilterForm
from quickscale.core.access import allow_only

PAGE_SIZE = 50
PERMISSION = "quickscale_audit.view_auditevent"


def _may_read(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(PERMISSION))


def staff_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A view decorator: only active staff with the audit log's view permission may open the
    page (visitors are sent to log in, others get 403), with GET or HEAD, never cached."""
    guarded = allow_only(_may_read, "The audit log is for staff with its view permission.")
    return never_cache(require_safe(guarded(view)))


def _filters(request: HttpRequest) -> EventFilterForm:
    data = {
        name: request.GET[name] for name in EventFilterForm.base_fields if request.GET.get(name)
    }
    return EventFilterForm(data)


@staff_only
def event_list(request: HttpRequest) -> HttpResponse:
    """The staff page: the events a search finds, newest first, a page at a time."""
    form = _filters(request)
    events: list[AuditEvent] = []
    next_before: int | None = None
    before = request.GET.get("before", "")
    if form.is_valid():
        found = form.filter(AuditEvent.objects.all()).defer("user_agent")
        if before.isdigit():
            found = found.filter(id__lt=int(before))
        events = list(found.order_by("-id")[: PAGE_SIZE + 1])
        if len(events) > PAGE_SIZE:
            events = events[:PAGE_SIZE]
            next_before = events[-1].pk
    query = urlencode({name: value for name, value in form.data.items() if value})
    return render(
        request,
        "quickscale/audit/events.html",
        {
            "form": form,
            "events": events,
            "query": query,
            "next_query": urlencode({**form.data, "before": next_before}) if next_before else "",
            "paged": before.isdigit(),
            "page_size": PAGE_SIZE,
        },
    )


@staff_only
def export(request: HttpRequest) -> HttpResponseBase:
    """The events the same filters find, as a JSON Lines (``format=jsonl``) or CSV download."""
    form = _filters(request)
    chosen = request.GET.get("format", "jsonl")
    if chosen not in exporting.FORMATS or not form.is_valid():
        return render(
            request,
            "quickscale/audit/events.html",
            {"form": form, "events": [], "query": "", "export_error": True},
            status=400,
        )
    record(
        "audit.exported",
        metadata={"format": chosen, "filters": form.cleaned_data, "to": "download"},
    )
    rows = exporting.events(form.filter(AuditEvent.objects.all()))
    if chosen == "csv":
        lines, content_type = exporting.csv_lines(rows), "text/csv; charset=utf-8"
    else:
        lines, content_type = exporting.jsonl_lines(rows), "application/x-ndjson; charset=utf-8"
    response = StreamingHttpResponse(lines, content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{chosen}"'
    return response
