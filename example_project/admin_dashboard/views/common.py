"""What several dashboard pages share: pagination links and the one-time forms' bookkeeping."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

#: Rows of a paginated list.
PAGE_SIZE = 25
#: Rows of a "recent ..." table on a user's or a payment's page.
RECENT = 10


def paginate(request: HttpRequest, rows: Any, per_page: int = PAGE_SIZE) -> Page:
    """The page of ``rows`` asked for by ``?page=`` (the first, or the last one, when the
    number is not a page)."""
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


def query_without(request: HttpRequest, *names: str) -> str:
    """The current query string without ``names``, to build links to other pages of a list."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()
