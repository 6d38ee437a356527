"""The staff dashboard, under ``/dashboard/`` (the audit log is the audit app's page, at
``/dashboard/audit/``)."""

from __future__ import annotations

from django.urls import path

from admin_dashboard import views

app_name = "admin_dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("users/", views.users, name="users"),
    path("users/<int:user_id>/", views.user_detail, name="user"),
    path("credits/", views.credits, name="credits"),
    path("services/", views.services, name="services"),
    path("payments/", views.payments, name="payments"),
    path("analytics/", views.analytics, name="analytics"),
]
