"""URL map of the example project; each app owns the URLs under its prefix.

``/`` public pages, ``/users/`` the customer's account, ``/services/`` the service playground,
``/dashboard/`` the staff dashboard, ``/api/`` the JSON API and its docs, ``/stripe/`` billing
(pricing, checkout, the webhook), ``/accounts/`` sign-up and log-in, ``/admin/`` Django's admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", include("public.urls")),
    path("users/api-keys/", include("quickscale.apikeys.urls")),
    path("users/", include("users.urls")),
    path("services/", include("playground.urls")),
    path("dashboard/audit/", include("quickscale.audit.urls")),
    path("dashboard/", include("admin_dashboard.urls")),
    path("api/", include("quickscale.api.urls")),
    # Billing's pages live at the site's addresses (the pricing page at /pricing/, the person's
    # billing in their account); billing's own addresses for them lead there.
    path("stripe/pricing/", RedirectView.as_view(pattern_name="public:pricing")),
    path("stripe/account/", RedirectView.as_view(pattern_name="users:billing")),
    path("stripe/", include("quickscale.billing.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

handler500 = "common.views.server_error"
