"""Who may open the staff pages, and who may act on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.views.decorators.cache import never_cache

from quickscale.core.access import allow_only

View = Callable[..., HttpResponse]


def is_staff(user: Any) -> bool:
    return bool(user.is_active and user.is_staff)


def staff_required(view: View) -> View:
    """Staff only, never cached. A visitor is sent to log in; a signed-in customer gets the 403
    page (never the login page, which would send them straight back)."""
    return never_cache(allow_only(is_staff, "This page is for staff.")(view))


#: What each kind of staff action needs: the change permission of what it changes, as
#: Django's admin asks for the same actions there.
CHANGE_CREDITS = "quickscale_credits.change_creditaccount"
CHANGE_KEYS = "quickscale_apikeys.change_apikey"
CHANGE_SERVICES = "quickscale_services.change_service"
REFUND_PAYMENTS = "quickscale_billing.change_payment"


def staff_permission_required(permission: str) -> Callable[[View], View]:
    """Staff with ``permission`` only (superusers have every one); other staff get 403."""

    def allowed(user: Any) -> bool:
        return is_staff(user) and bool(user.has_perm(permission))

    def decorator(view: View) -> View:
        return never_cache(allow_only(allowed, "Your account may not do this.")(view))

    return decorator
