"""The keys page: a signed-in person creates, rolls and revokes their own keys.

A new token appears once, in the response to the POST that made it, and nowhere else: not in a
URL, a session, a log or the database. Pages are never cached. Only the owner of a key can see
or touch it; anyone else's key id is a 404, exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from quickscale.apikeys import keys
from quickscale.apikeys.exceptions import InvalidKeyArgument
from quickscale.apikeys.forms import CreateKeyForm
from quickscale.apikeys.models import APIKey
from quickscale.apikeys.scopes import SCOPES

View = Callable[..., HttpResponse]

#: Session entry remembering the last create forms submitted (their ``form_id``, not a key).
SUBMITTED_FORMS = "quickscale_apikeys_submitted"
REMEMBERED_FORMS = 20


def people_only(view: View) -> View:
    """Signed in, never cached, and refused to a request authenticated by an API key: a key
    must not be able to mint keys, or one with a narrow scope could grant itself wider ones."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "auth", None) is not None:
            raise PermissionDenied(_("API keys are managed by people signed in, not by keys."))
        return view(request, *args, **kwargs)

    return never_cache(login_required(wrapped))


@dataclass(frozen=True)
class KeyRow:
    """A key as the list shows it."""

    key: APIKey
    #: ``active``, ``replaced`` (rolled, working until its grace period ends), ``expired`` or
    #: ``revoked``; also the CSS modifier of its badge.
    status: str
    scopes: list[tuple[str, str]]

    @property
    def can_roll(self) -> bool:
        """Whether the list offers to roll the key: only an active key that was not rolled."""
        return self.status == "active"

    @property
    def can_revoke(self) -> bool:
        """Whether the list offers to revoke the key: it still works, rolled or not."""
        return self.status in ("active", "replaced")


def rows(owner: Any) -> list[KeyRow]:
    """The keys of ``owner`` as the list shows them, newest first."""
    found = keys.list_keys(owner)
    replaced = {key.rotated_from_id for key in found if key.rotated_from_id is not None}
    result = []
    for key in found:
        if key.revoked_at is not None:
            state = "revoked"
        elif not key.is_active:
            state = "expired"
        elif key.pk in replaced:
            state = "replaced"
        else:
            state = "active"
        scopes = [(scope, str(SCOPES.get(scope, ""))) for scope in key.scopes]
        result.append(KeyRow(key, state, scopes))
    return result


def own_key(request: HttpRequest, key_id: str) -> APIKey:
    """The signed-in user's key with ``key_id``; 404 for anyone else's."""
    return get_object_or_404(APIKey.objects.filter(owner=request.user), key_id=key_id)


def list_url() -> str:
    """The URL of the keys page."""
    return reverse("quickscale_apikeys:list")


def render_list(request: HttpRequest, form: CreateKeyForm, status: int = 200) -> HttpResponse:
    """The keys page: the user's keys and the form that creates one."""
    context = {"rows": rows(request.user), "form": form}
    return render(request, "quickscale/apikeys/key_list.html", context, status=status)


def render_token(
    request: HttpRequest, key: APIKey, token: str, *, replaced: APIKey | None = None
) -> HttpResponse:
    """The one response that ever contains the token."""
    context = {
        "key": key,
        "token": token,
        "replaced": replaced,
        "scopes": [(scope, str(SCOPES.get(scope, ""))) for scope in key.scopes],
    }
    return render(request, "quickscale/apikeys/key_created.html", context)


@people_only
@require_safe
def key_list(request: HttpRequest) -> HttpResponse:
    """The keys page."""
    return render_list(request, CreateKeyForm())


@people_only
@require_POST
def create(request: HttpRequest) -> HttpResponse:
    """Create a key from the form and show its token, once; the page again with the errors."""
    form = CreateKeyForm(request.POST)
    if not form.is_valid():
        return render_list(request, form, status=400)
    submitted: list[str] = request.session.get(SUBMITTED_FORMS, [])
    form_id = form.cleaned_data["form_id"]
    if form_id and form_id in submitted:
        messages.info(
            request,
            _("That form was sent already: the key it created is in the list."),
            fail_silently=True,
        )
        return HttpResponseRedirect(list_url(), status=303)
    days = form.cleaned_data["expires_in_days"]
    try:
        key, token = keys.create_key(
            request.user,
            form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            environment=form.cleaned_data["environment"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            created_by=request.user,
        )
    except InvalidKeyArgument as error:
        form.add_error(_field(error, form), error.message)
        return render_list(request, form, status=400)
    if form_id:
        request.session[SUBMITTED_FORMS] = [*submitted, form_id][-REMEMBERED_FORMS:]
    return render_token(request, key, token)


@people_only
@require_http_methods(["GET", "POST"])
def roll(request: HttpRequest, key_id: str) -> HttpResponse:
    """Ask to confirm (GET), then roll the key and show the new token (POST)."""
    key = own_key(request, key_id)
    if request.method == "POST":
        try:
            new, token = keys.roll_key(key, by=request.user)
        except InvalidKeyArgument as error:
            messages.error(request, error.message, fail_silently=True)
            return HttpResponseRedirect(list_url(), status=303)
        key.refresh_from_db()
        return render_token(request, new, token, replaced=key)
    grace = settings.QUICKSCALE_APIKEYS_ROLL_GRACE
    now = timezone.now()
    context = {
        "key": key,
        "can_roll": key.is_active and not APIKey.objects.filter(rotated_from=key).exists(),
        "grace": timeuntil(now + timedelta(seconds=grace), now) if grace else None,
    }
    return render(request, "quickscale/apikeys/key_confirm_roll.html", context)


@people_only
@require_http_methods(["GET", "POST"])
def revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    """Ask to confirm (GET), then revoke the key and go back to the list (POST)."""
    key = own_key(request, key_id)
    if request.method == "POST":
        if key.revoked_at is None:
            keys.revoke_key(key, by=request.user, reason="Revoked by its owner.")
        messages.success(
            request,
            _("Revoked the key “%(name)s” (%(key)s): it can no longer be used.")
            % {"name": key.name, "key": key.masked},
            fail_silently=True,
        )
        return HttpResponseRedirect(list_url(), status=303)
    return render(request, "quickscale/apikeys/key_confirm_revoke.html", {"key": key})


def _field(error: InvalidKeyArgument, form: CreateKeyForm) -> str | None:
    field = error.details.get("field") if isinstance(error.details, dict) else None
    return field if field in form.fields else None
