"""Credits: the ledger of every account, newest first.

Pages are keyset-paginated (``before`` is the id of the last entry shown), so the hundredth
page costs what the first does and no page counts the whole table. A filter that does not
parse is shown as the form's error, with no entries, never as a server error.
"""

from __future__ import annotations

from urllib.parse import urlencode

from common.decorators import staff_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from admin_dashboard.forms import LedgerFilterForm
from admin_dashboard.views.common import PAGE_SIZE
from quickscale.credits.models import CreditTransaction, TransactionKind


@staff_required
def ledger(request: HttpRequest) -> HttpResponse:
    form = LedgerFilterForm(request.GET)
    entries: list[CreditTransaction] = []
    older = ""
    if form.is_valid():
        found = form.filter(
            CreditTransaction.objects.exclude(kind=TransactionKind.ALLOCATION)
        ).select_related("account__owner", "actor", "grant")
        if form.cleaned_data["before"]:
            found = found.filter(id__lt=form.cleaned_data["before"])
        entries = list(found.order_by("-id")[: PAGE_SIZE + 1])
        if len(entries) > PAGE_SIZE:
            entries = entries[:PAGE_SIZE]
            older = urlencode({**_filters(form), "before": entries[-1].pk})
    return render(
        request,
        "admin_dashboard/credits.html",
        {
            "form": form,
            "entries": entries,
            "older": older,
            "newest": urlencode(_filters(form)) if form.data.get("before") else None,
        },
    )


def _filters(form: LedgerFilterForm) -> dict[str, str]:
    """The filters as sent, without the page."""
    return {name: value for name, value in form.data.items() if value and name != "before"}
