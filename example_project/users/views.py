"""The customer's pages (being written)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "users/placeholder.html", {"title": "Overview"})


activity = runs = settings_page = delete_account = home


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    return render(request, "users/placeholder.html", {"title": "Run"})
