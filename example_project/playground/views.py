"""The service playground (being written)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def catalog(request: HttpRequest) -> HttpResponse:
    return render(request, "users/placeholder.html", {"title": "Services"})


def service(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "users/placeholder.html", {"title": slug})
