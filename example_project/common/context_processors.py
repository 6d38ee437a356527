"""``project_settings``: the site's name and which features are on, for every template.

Templates read ``project.name`` for titles and ``project.features.<flag>`` to show only what
works here: the navigation hides the API docs when the API is not installed, and "Buy credits"
while billing is off. Every value comes from settings and the app registry, never the database,
so the error pages can use it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest


@dataclass(frozen=True)
class Features:
    #: Stripe is configured, or the payment sandbox stands in for it: credits can be bought.
    stripe_enabled: bool
    #: Purchases go through the payment sandbox: no money moves.
    payment_sandbox: bool
    #: The pricing page and billing history exist (the billing app is installed).
    billing: bool
    #: Paid services and their playground.
    services: bool
    #: Customers manage API keys.
    api_keys: bool
    #: The JSON API and its documentation.
    api: bool
    #: Staff read the audit log.
    audit: bool


@dataclass(frozen=True)
class Project:
    name: str
    tagline: str
    features: Features


def current_project() -> Project:
    """The project as the settings describe it now."""
    installed = apps.is_installed
    billing = installed("quickscale.billing")
    stripe_enabled = payment_sandbox = False
    if billing:
        from quickscale.billing.client import is_enabled
        from quickscale.billing.sandbox import is_active

        stripe_enabled = is_enabled()
        payment_sandbox = is_active()
    return Project(
        name=settings.SITE_NAME,
        tagline=settings.SITE_TAGLINE,
        features=Features(
            stripe_enabled=stripe_enabled,
            payment_sandbox=payment_sandbox,
            billing=billing,
            services=installed("quickscale.services"),
            api_keys=installed("quickscale.apikeys"),
            api=installed("quickscale.api"),
            audit=installed("quickscale.audit"),
        ),
    )


#: The area a quickscale app's page belongs to, by the namespace of its URL.
SECTION_LAYOUTS = {
    "users": "users/layout.html",
    "quickscale_apikeys": "users/layout.html",
    "quickscale_audit": "admin_dashboard/layout.html",
}


def page_layout(request: HttpRequest | None) -> str:
    """The layout ``templates/quickscale/base.html`` puts a quickscale app's page in: its
    area's (the account, the dashboard), or a page of its own (pricing, the API docs)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "layouts/page.html"
    return SECTION_LAYOUTS.get(match.namespace, "layouts/page.html")


def project_settings(request: HttpRequest) -> dict[str, Any]:
    return {"project": current_project(), "page_layout": page_layout(request)}
