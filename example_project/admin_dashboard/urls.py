"""The staff dashboard, under ``/dashboard/`` (the audit log is the audit app's page, at
``/dashboard/audit/``). Pages answer GET; every change is a POST with its CSRF token."""

from __future__ import annotations

from django.urls import path

from admin_dashboard.views import credits, overview, payments, services, users

app_name = "admin_dashboard"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("users/", users.user_list, name="users"),
    path("users/<int:user_id>/", users.user_detail, name="user"),
    path("users/<int:user_id>/grant/", users.grant_credits, name="grant"),
    path("users/<int:user_id>/deduct/", users.deduct_credits, name="deduct"),
    path("users/<int:user_id>/keys/<int:key_id>/revoke/", users.revoke_key, name="revoke_key"),
    path("credits/", credits.ledger, name="credits"),
    path("services/", services.catalog, name="services"),
    path("services/<int:service_id>/price/", services.set_price, name="service_price"),
    path("services/<int:service_id>/switch/", services.switch, name="service_switch"),
    path("payments/", payments.payment_list, name="payments"),
    path("payments/<int:payment_id>/", payments.payment_detail, name="payment"),
    path("payments/<int:payment_id>/refund/", payments.refund_payment, name="refund"),
    path("analytics/", overview.analytics_page, name="analytics"),
    path("analytics/<slug:name>.csv", overview.analytics_csv, name="analytics_csv"),
]
