from __future__ import annotations

from django.urls import include, path

from tests.api.outage import views

urlpatterns = [
    path("api/", include("quickscale.api.urls")),
    path("api/host/unreachable/", views.unreachable),
    path("api/host/missing-table/", views.missing_table),
    path("page/", views.users),
    path("unreachable/", views.unreachable),
    path("missing-table/", views.missing_table),
    path("duplicate/", views.duplicate),
]
