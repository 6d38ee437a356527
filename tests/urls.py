from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests.hostapp import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/host/ping/", views.ping),
    path("api/", include("quickscale.api.urls")),
    path("keys/", include("quickscale.apikeys.urls")),
    path("billing/", include("quickscale.billing.urls")),
    path("audit/", include("quickscale.audit.urls")),
]
