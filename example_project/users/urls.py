"""The customer's pages, under ``/users/`` (the API keys page is the apikeys app's, at
``/users/api-keys/``)."""

from __future__ import annotations

from django.urls import path

from quickscale.billing.views import account as billing_account
from users import views

app_name = "users"

urlpatterns = [
    path("", views.home, name="home"),
    path("activity/", views.activity, name="activity"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    # Billing's own page of the person's plan, payments and refunds, shown in the account.
    path("billing/", billing_account, name="billing"),
    path("settings/", views.settings_page, name="settings"),
    path("delete/", views.delete_account, name="delete"),
]
