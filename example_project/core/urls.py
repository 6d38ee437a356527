"""URL map of the example project; each app owns the URLs under its prefix."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("public.urls")),
    path("users/api-keys/", include("quickscale.apikeys.urls")),
    path("dashboard/audit/", include("quickscale.audit.urls")),
    path("api/", include("quickscale.api.urls")),
    # Pricing, checkout, "my billing" and the Stripe webhook (/stripe/webhook/).
    path("stripe/", include("quickscale.billing.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
