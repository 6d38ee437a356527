"""Who may open the staff pages."""

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
