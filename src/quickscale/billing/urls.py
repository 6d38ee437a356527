"""Billing's URLs, the Stripe webhook included; e.g.
``path("billing/", include("quickscale.billing.urls"))``, then give Stripe the webhook's address
(``/billing/webhook/``). Every URL exists whether or not billing is configured; the payment
sandbox's pages (under ``sandbox/``) answer 404 while it is not active."""

from __future__ import annotations

from django.urls import include, path

from quickscale.billing import views

app_name = "quickscale_billing"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("checkout/", views.start_checkout, name="checkout"),
    path("checkout/success/", views.checkout_success, name="checkout_success"),
    path("checkout/canceled/", views.checkout_canceled, name="checkout_canceled"),
    path("account/", views.account, name="account"),
    path("portal/", views.portal, name="portal"),
    path("plan/change/", views.change_plan, name="change_plan"),
    path("plan/cancel/", views.cancel_plan, name="cancel_plan"),
    path("plan/resume/", views.resume_plan, name="resume_plan"),
    path("webhook/", views.stripe_webhook, name="webhook"),
    path("sandbox/", include("quickscale.billing.sandbox.urls")),
]
