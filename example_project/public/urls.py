from __future__ import annotations

from django.urls import path

from public import views
from quickscale.billing.views import pricing

app_name = "public"

urlpatterns = [
    path("", views.home, name="home"),
    # Billing's pricing page (packs and plans, with their buy buttons), at the site's address.
    path("pricing/", pricing, name="pricing"),
    path("about/", views.about, name="about"),
]
