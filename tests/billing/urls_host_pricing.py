"""Billing's pricing page routed by a host with a template of its own."""

from __future__ import annotations

from django.urls import include, path

from quickscale.billing.views import pricing

urlpatterns = [
    path("pricing/", pricing, {"template_name": "hostapp/pricing.html"}),
    path("billing/", include("quickscale.billing.urls")),
]
