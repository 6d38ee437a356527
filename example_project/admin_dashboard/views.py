"""The staff dashboard (being written)."""

from __future__ import annotations

from common.decorators import staff_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_dashboard/placeholder.html", {"title": "Overview"})


users = credits = services = payments = analytics = overview


@staff_required
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    return render(request, "admin_dashboard/placeholder.html", {"title": "User"})
