"""Render every page the installed apps route, as the person each page is for, and report what
came back. Called by ``tests/projects/exercise.py`` after ``migrate``, inside a partial project.

Every route of the apps' URLconfs (``quickscale_<app>`` namespaces, included by
``tests/projects/urls.py``) must have a request below: a route without one is reported in
``unplanned``, so a page added later cannot go unrendered. The admin's pages are those of the
installed apps' models: each changelist and app index, the change page of an object when there
is one, and the extra admin views (adjusting credits).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.http import HttpResponseBase
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

#: A page's report keeps this much of its body.
MAX_BODY = 200_000


@dataclass
class Data:
    """What the pages are rendered with: the people and the objects the URLs name."""

    member: Any
    staff: Any
    token: str = ""
    key_id: str = ""
    run_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Visit:
    """One request: how, where, as whom (``member``, ``staff``, ``key`` or ``anonymous``)."""

    method: str
    url: str
    who: str
    data: dict[str, Any] | None = None
    json: dict[str, Any] | None = None


def routes() -> dict[str, URLPattern]:
    """Every route of the installed quickscale apps' URLconfs, by ``namespace:name`` (an
    unnamed route by its view's name)."""
    found: dict[str, URLPattern] = {}

    def walk(patterns: list[Any], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif namespace.startswith("quickscale_"):
                name = pattern.name or getattr(pattern.callback, "__name__", str(pattern))
                found[f"{namespace}:{name}"] = pattern

    walk(get_resolver().url_patterns, "")
    return found


def make_data() -> Data:
    """A member with credits, a key with every scope and a run; a superuser for staff pages."""
    users = get_user_model()
    data = Data(
        member=users.objects.create_user("member", "member@example.com", "pw-member-1"),
        staff=users.objects.create_superuser("staff", "staff@example.com", "pw-staff-1"),
    )
    if apps.is_installed("quickscale.credits"):
        from quickscale.credits import ledger

        ledger.grant(data.member, Decimal(100), source="promotion", reason="Welcome")
    if apps.is_installed("quickscale.apikeys"):
        from quickscale.apikeys import keys
        from quickscale.apikeys.scopes import SCOPES

        key, data.token = keys.create_key(data.member, "Reports", scopes=list(SCOPES))
        data.key_id = key.key_id
    if apps.is_installed("quickscale.services") and apps.is_installed("tests.hostapp"):
        from quickscale.services import execution

        run = execution.execute(data.member, "word-count", {"text": "one two three"})
        data.run_id = str(run.pk)
    return data


def app_visits(data: Data) -> dict[str, list[Visit]]:
    """The requests of each route, by ``namespace:name``."""

    def url(name: str, *args: str, then: str = "") -> str:
        try:
            return reverse(name, args=args) + then
        except NoReverseMatch:
            return ""

    key_id, run_id = data.key_id or "000000000000", data.run_id or "0"
    keys = "quickscale_apikeys"
    billing = "quickscale_billing"
    api = "quickscale_api"
    visits = {
        # The keys page: the list, a new key (its token shown once), the confirmations.
        f"{keys}:list": [Visit("GET", url(f"{keys}:list"), "member")],
        f"{keys}:create": [
            Visit(
                "POST",
                url(f"{keys}:create"),
                "member",
                data={"name": "CI", "scopes": ["credits:read"], "environment": "live"},
            ),
            Visit("GET", url(f"{keys}:create"), "member"),
        ],
        f"{keys}:roll": [Visit("GET", url(f"{keys}:roll", key_id), "member")],
        f"{keys}:revoke": [Visit("GET", url(f"{keys}:revoke", key_id), "member")],
        # The audit log's staff page and its export.
        "quickscale_audit:events": [Visit("GET", url("quickscale_audit:events"), "staff")],
        "quickscale_audit:export": [
            Visit("GET", url("quickscale_audit:export"), "staff", data={"format": "csv"})
        ],
        # Billing, not configured: the pages that need Stripe say so (503).
        f"{billing}:pricing": [
            Visit("GET", url(f"{billing}:pricing"), "member"),
            Visit("GET", url(f"{billing}:pricing"), "anonymous"),
        ],
        f"{billing}:checkout": [Visit("POST", url(f"{billing}:checkout"), "member")],
        f"{billing}:checkout_success": [
            Visit("GET", url(f"{billing}:checkout_success"), "member", data={"session_id": "cs_1"})
        ],
        f"{billing}:checkout_canceled": [
            Visit("GET", url(f"{billing}:checkout_canceled"), "member")
        ],
        f"{billing}:account": [Visit("GET", url(f"{billing}:account"), "member")],
        f"{billing}:portal": [Visit("POST", url(f"{billing}:portal"), "member")],
        f"{billing}:change_plan": [Visit("POST", url(f"{billing}:change_plan"), "member")],
        f"{billing}:cancel_plan": [Visit("POST", url(f"{billing}:cancel_plan"), "member")],
        f"{billing}:resume_plan": [Visit("POST", url(f"{billing}:resume_plan"), "member")],
        f"{billing}:webhook": [Visit("GET", url(f"{billing}:webhook"), "anonymous")],
        # The payment sandbox's pages exist, and answer 404 while it is off.
        f"{billing}:sandbox_checkout": [
            Visit("GET", url(f"{billing}:sandbox_checkout", "cs_1"), "member")
        ],
        f"{billing}:sandbox_portal": [
            Visit("GET", url(f"{billing}:sandbox_portal", "bps_1"), "member")
        ],
        f"{billing}:sandbox_advance": [
            Visit("POST", url(f"{billing}:sandbox_advance", "sub_1"), "staff")
        ],
        # The JSON API, with the member's key; its documentation page, public.
        f"{api}:balance": [Visit("GET", url(f"{api}:balance"), "key")],
        f"{api}:transactions": [Visit("GET", url(f"{api}:transactions"), "key")],
        f"{api}:services": [Visit("GET", url(f"{api}:services"), "key")],
        f"{api}:create-run": [
            Visit(
                "POST",
                url(f"{api}:create-run", "word-count"),
                "key",
                json={"input": {"text": "four words in here"}},
            )
        ],
        f"{api}:runs": [Visit("GET", url(f"{api}:runs"), "key")],
        f"{api}:run": [Visit("GET", url(f"{api}:run", run_id), "key")],
        f"{api}:usage": [Visit("GET", url(f"{api}:usage"), "key")],
        f"{api}:openapi": [Visit("GET", url(f"{api}:openapi"), "key")],
        f"{api}:docs": [
            Visit("GET", url(f"{api}:docs"), "anonymous"),
            Visit("GET", url(f"{api}:docs"), "member"),
        ],
        f"{api}:not_found": [Visit("GET", url(f"{api}:balance", then="/nothing-here"), "key")],
    }
    # A route's requests are made only where its app is installed (its namespace routed).
    return {route: [v for v in found if v.url] for route, found in visits.items()}


def admin_visits() -> Iterator[tuple[str, Visit, str]]:
    """The admin's pages of the installed apps' models, with the text each must show."""
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib import admin

    labels = set()
    for model in admin.site._registry:
        opts = model._meta
        if not opts.app_label.startswith("quickscale_"):
            continue
        labels.add(opts.app_label)
        base = f"admin:{opts.app_label}_{opts.model_name}"
        title = f"Select {opts.verbose_name} to"
        yield f"{base}_changelist", Visit("GET", reverse(f"{base}_changelist"), "staff"), title
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            yield (
                f"{base}_change",
                Visit("GET", reverse(f"{base}_change", args=[obj.pk]), "staff"),
                str(opts.verbose_name),
            )
            if opts.label == "quickscale_billing.Payment":
                yield (
                    f"{base}_refund",
                    Visit("GET", reverse(f"{base}_refund", args=[obj.pk]), "staff"),
                    "Left to refund",
                )
            if opts.label == "quickscale_credits.CreditAccount":
                yield (
                    f"{base}_adjust",
                    Visit("GET", reverse(f"{base}_adjust", args=[obj.pk]), "staff"),
                    "Adjust credits",
                )
    for label in sorted(labels):
        name = str(apps.get_app_config(label).verbose_name)
        url = reverse("admin:app_list", kwargs={"app_label": label})
        yield f"admin:app_list:{label}", Visit("GET", url, "staff"), name


def send(clients: dict[str, Client], visit: Visit) -> HttpResponseBase:
    """Make the request of ``visit`` with the client of its person."""
    client = clients[visit.who]
    if visit.json is not None:
        return client.generic(
            visit.method, visit.url, data=_json(visit.json), content_type="application/json"
        )
    if visit.method == "POST":
        return client.post(visit.url, visit.data or {})
    return client.get(visit.url, visit.data or {})


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value)


def describe(response: HttpResponseBase) -> dict[str, Any]:
    """What the report keeps of a response: status, type, templates and (the start of) body."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        body = response.content  # type: ignore[attr-defined]
    templates = [t.name for t in getattr(response, "templates", []) if t.name]
    return {
        "status": response.status_code,
        "content_type": response.get("Content-Type", ""),
        "templates": sorted(set(templates)),
        "body": body.decode("utf-8", errors="replace")[:MAX_BODY],
    }


def sandbox_journey(clients: dict[str, Client]) -> dict[str, Any]:
    """With the payment sandbox active: a catalog, a pack bought and a plan subscribed to
    through the sandbox's own pages, the portal and the staff's "advance one period", each
    page reported by the route it is. Empty while the sandbox is off."""
    if not apps.is_installed("quickscale.billing"):
        return {}
    from quickscale.billing.client import get_client
    from quickscale.billing.models import Subscription
    from quickscale.billing.sandbox.guard import is_active

    if not is_active():
        return {}
    api = get_client().v1
    packs = api.products.create(params={"name": "Credit pack"})
    plans = api.products.create(params={"name": "Plans"})
    prices = {
        name: api.prices.create(params={"currency": "usd", **params}).id
        for name, params in {
            "pack": {"product": packs.id, "unit_amount": 1000, "metadata": {"credits": "100"}},
            "plan": {
                "product": plans.id,
                "unit_amount": 900,
                "recurring": {"interval": "month"},
                "metadata": {"credits": "50"},
            },
        }.items()
    }
    member, staff = clients["member"], clients["staff"]
    billing = "quickscale_billing"
    journey: dict[str, Any] = {}

    def visit(label: str, response: HttpResponseBase, url: str) -> HttpResponseBase:
        journey[label] = {"url": url, **describe(response)}
        return response

    pricing = reverse(f"{billing}:pricing")
    visit(f"{billing}:pricing", member.get(pricing), pricing)
    checkout = reverse(f"{billing}:checkout")
    for kind in ("pack", "plan"):
        started = visit(
            f"{billing}:checkout+{kind}", member.post(checkout, {"price": prices[kind]}), checkout
        )
        page = started["Location"]
        visit(f"{billing}:sandbox_checkout+{kind}", member.get(page), page)
        paid = visit(f"sandbox pay+{kind}", member.post(page, {"action": "pay"}), page)
        success = paid["Location"]
        visit(f"{billing}:checkout_success+{kind}", member.get(success), success)
    account = reverse(f"{billing}:account")
    visit(f"{billing}:account", member.get(account), account)
    portal = reverse(f"{billing}:portal")
    sent = visit(f"{billing}:portal", member.post(portal), portal)
    visit(f"{billing}:sandbox_portal", member.get(sent["Location"]), sent["Location"])
    subscription = Subscription.objects.get()
    advance = reverse(f"{billing}:sandbox_advance", args=[subscription.stripe_id])
    visit(f"{billing}:sandbox_advance", staff.post(advance, {"next": account}), advance)
    return journey


def render_pages() -> dict[str, Any]:
    """Request every page; the report: routes found, routes without a request, and per page
    (``route`` or ``route#n`` for its n-th request) what came back."""
    setup_test_environment()
    data = make_data()
    clients: dict[str, Client] = {"anonymous": Client(), "member": Client(), "staff": Client()}
    clients["member"].force_login(data.member)
    clients["staff"].force_login(data.staff)
    clients["key"] = Client(headers={"Authorization": f"Bearer {data.token}"})
    found = routes()
    planned = app_visits(data)
    pages: dict[str, Any] = {}
    for route in sorted(found):
        for number, visit in enumerate(planned.get(route, [])):
            label = route if number == 0 else f"{route}#{number}"
            pages[label] = {
                "url": visit.url,
                "method": visit.method,
                **describe(send(clients, visit)),
            }
    journey = sandbox_journey(clients)
    admin_pages: dict[str, Any] = {}
    for label, visit, text in admin_visits():
        admin_pages[label] = {"url": visit.url, "expect": text, **describe(send(clients, visit))}
    return {
        "routes": sorted(found),
        "unplanned": sorted(set(found) - set(planned)),
        "pages": pages,
        "sandbox": journey,
        "admin": admin_pages,
    }
