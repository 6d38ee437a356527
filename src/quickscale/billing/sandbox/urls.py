"""The sandbox's pages, included by ``quickscale.billing.urls`` under ``sandbox/`` (names in
the ``quickscale_billing`` namespace). They always exist, and answer 404 while the sandbox is
not active."""

from __future__ import annotations

from django.urls import path

from quickscale.billing.sandbox import views

urlpatterns = [
    path("checkout/<str:session_id>/", views.checkout, name="sandbox_checkout"),
    path("portal/<str:session_id>/", views.portal, name="sandbox_portal"),
    path("subscriptions/<str:subscription_id>/advance/", views.advance, name="sandbox_advance"),
]
