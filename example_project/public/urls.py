from __future__ import annotations

from django.urls import path

from public import views
from quickscale.billing.views import pricing

app_name = "public"

urlpatterns = [
    path("", views.home, name="home"),
    # Billing's pricing page (packs and plans, with their buy buttons) and what a credit buys.
    path("pricing/", pricing, {"template_name": "public/pricing.html"}, name="pricing"),
    path("about/", views.about, name="about"),
]
