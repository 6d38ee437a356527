"""The error pages' views where Django's defaults do not fit."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page in the site's layout.

    Rendered without the context processors, as Django's own 500 view does: whatever broke the
    request (the database, say) must not break its error page too. The layout finds the
    project's name itself and shows the signed-out navigation.
    """
    return HttpResponseServerError(loader.get_template("500.html").render())


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A refused form (a missing or stale CSRF token) in the site's layout, saying nothing was
    changed. Django's own page is meant for developers."""
    return render(request, "403_csrf.html", status=403)
