"""The staff page; include it where staff work, e.g.
``path("dashboard/audit/", include("quickscale.audit.urls"))``."""

from __future__ import annotations

from django.urls import path

from quickscale.audit import views

app_name = "quickscale_audit"

urlpatterns = [
    path("", views.event_list, name="events"),
    path("export/", views.export, name="export"),
]
