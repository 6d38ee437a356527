"""Who may open a page: the one access rule every app's staff pages follow.

A visitor who is not signed in is sent to ``LOGIN_URL`` and comes back after; a signed-in person
who may not open the page gets 403. Sending them to the login page instead (what
``user_passes_test`` does) loops with a login view that sends signed-in people onwards, as
django-allauth's does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

__all__ = ["allow_only"]

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def allow_only(test: Callable[[Any], bool], message: str = "") -> Callable[[View], View]:
    """A view decorator: ``test(user)`` must hold for a signed-in user, else 403 with
    ``message``; visitors are sent to log in."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not test(request.user):
                raise PermissionDenied(message or "You may not open this page.")
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
