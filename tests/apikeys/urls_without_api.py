"""A project with the keys page and no API (``quickscale.api`` not routed)."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("keys/", include("quickscale.apikeys.urls"))]
