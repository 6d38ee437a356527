"""The customer's pages under ``/users/``: overview, activity, runs, settings and closing the
account.

Each view reads through the libraries' public functions (the ledger's balance, grants and
statement; the services' usage and runs) and renders them; the words for ledger entries live in
:mod:`users.activity`, the usage chart in :mod:`users.usage` and the closing of an account in
:mod:`users.closing`. Every page is the signed-in person's own and is never cached: it shows
balances that change with every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from quickscale.credits import ledger
from quickscale.services.models import RunStatus, ServiceRun
from users.activity import describe, grant_source
from users.closing import CannotClose, close_account, consequences
from users.forms import CloseAccountForm, ProfileForm
from users.usage import usage

#: Rows per page of the activity and runs lists.
PAGE_SIZE = 20
#: Entries the overview shows, and how many it reads to find them: it leaves out the entries
#: that only set credits aside or let them go (the activity page has those), so a run is one
#: line there, not two.
RECENT_ENTRIES = 5
RECENT_READ = 20
#: A grant expiring within this many days is marked as expiring soon.
SOON = timedelta(days=7)
#: ``?before=``: the id of the last row of the previous page.
_CURSOR = re.compile(r"[1-9][0-9]{0,17}")

View = Callable[..., HttpResponse]


def account_page(view: View) -> View:
    """Signed-in people only (a visitor logs in and comes back), never cached."""
    return login_required(never_cache(view))


class BadCursor(Exception):
    """``?before=`` is not the id of a row."""


def _cursor(request: HttpRequest) -> int | None:
    raw = request.GET.get("before", "")
    if not raw:
        return None
    if not _CURSOR.fullmatch(raw):
        raise BadCursor(raw)
    return int(raw)


def paged(view: View) -> View:
    """A list paged by ``?before=``: a cursor that is not an id gets the 400 page, not a 500."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadCursor:
            return render(request, "400.html", status=400)

    return wrapped


def see_other(url: str) -> HttpResponseRedirect:
    """Where to go after a form was handled: the browser GETs it, so reloading the page
    never sends the form again."""
    return HttpResponseRedirect(url, status=303)


@dataclass(frozen=True)
class GrantRow:
    source: str
    remaining: Decimal
    expires_at: datetime | None
    #: "31 Dec", or "31 Dec 2027" when not this year.
    expires_on: str
    soon: bool


def _grant_rows(user: Any) -> list[GrantRow]:
    now = timezone.localtime()
    rows = []
    for grant in ledger.grants(user):
        expires_on, soon = "", False
        if grant.expires_at is not None:
            local = timezone.localtime(grant.expires_at)
            expires_on = date_format(local, "j M" if local.year == now.year else "j M Y")
            soon = grant.expires_at - now <= SOON
        rows.append(
            GrantRow(
                grant_source(grant.source), grant.remaining, grant.expires_at, expires_on, soon
            )
        )
    return rows


@account_page
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    recent = ledger.statement(user, limit=RECENT_READ)
    changes = [entry for entry in recent.items if entry.amount][:RECENT_ENTRIES]
    return render(
        request,
        "users/home.html",
        {
            "balance": ledger.balance(user),
            "grants": _grant_rows(user),
            "usage": usage(user),
            "recent": describe(user, changes),
        },
    )


@account_page
@require_safe
@paged
def activity(request: HttpRequest) -> HttpResponse:
    before = _cursor(request)
    page = ledger.statement(request.user, before=before, limit=PAGE_SIZE)
    return render(
        request,
        "users/activity.html",
        {
            "lines": describe(request.user, page.items),
            "next_cursor": page.next_cursor,
            "first_page": before is None,
        },
    )


@account_page
@require_safe
@paged
def runs(request: HttpRequest) -> HttpResponse:
    before = _cursor(request)
    found = ServiceRun.objects.filter(user=request.user).select_related("service")
    if before is not None:
        found = found.filter(pk__lt=before)
    items = list(found.order_by("-pk")[: PAGE_SIZE + 1])
    more = len(items) > PAGE_SIZE
    return render(
        request,
        "users/runs.html",
        {
            "runs": items[:PAGE_SIZE],
            "next_cursor": items[PAGE_SIZE - 1].pk if more else None,
            "first_page": before is None,
        },
    )


#: How many times a run's page reloads itself (every 2 s) while the run is not finished.
RUN_REFRESH_TIMES = 90


@account_page
@require_safe
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """One run. Anyone else's run is a 404, exactly like a missing one; a run still queued or
    running reloads itself until it has finished."""
    run = get_object_or_404(
        ServiceRun.objects.select_related("service"), pk=run_id, user=request.user
    )
    is_open = run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
    # A bounded number of reloads: a site without a running task worker must not keep the
    # browser reloading for ever.
    waited = request.GET.get("waited", "")
    times = int(waited) if waited.isdigit() and len(waited) < 4 else 0
    refresh_url = f"?waited={times + 1}" if is_open and times < RUN_REFRESH_TIMES else ""
    return render(
        request,
        "users/run_detail.html",
        {
            "run": run,
            "open": is_open,
            "refresh_url": refresh_url,
            "balance": ledger.balance(request.user),
        },
    )


@account_page
@require_http_methods(["GET", "HEAD", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile is saved."))
        return see_other(reverse("users:settings"))
    return render(request, "users/settings.html", {"form": form})


@account_page
@require_http_methods(["GET", "HEAD", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """The page that says what closing the account does, and closes it when the person types
    their address (see :mod:`users.closing` for why it is closed rather than deleted)."""
    user = request.user
    form = CloseAccountForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            close_account(user)
        except CannotClose:
            pass  # the page, drawn again, says why
        else:
            logout(request)
            messages.success(
                request, _("Your account is closed. Thank you for having used our services.")
            )
            return see_other(reverse("public:home"))
    return render(
        request,
        "users/delete.html",
        {"form": form, "consequences": consequences(user)},
    )
