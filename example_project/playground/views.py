"""The service playground: the catalog at ``/services/`` and each service's page with its form.

Anyone may look; running needs an account. A run goes through ``execution.execute`` exactly as
an API call does, so it is charged, recorded and refused the same way. The Run form carries a
one-time token that becomes the run's idempotency key: a double click, or the same form sent
again, runs the service once and leads to that one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from playground.catalog import Offer, offer, offers
from quickscale.core.forms import TOKEN_PATTERN, new_token
from quickscale.credits import ledger
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.services import execution
from quickscale.services.exceptions import (
    InvalidInput,
    QueueUnavailable,
    ServiceDisabled,
    ServiceNotFound,
)


@dataclass(frozen=True)
class Problem:
    """Why a run did not start, for the form's alert."""

    message: str
    #: For too few credits: what the run needs and what is available.
    details: dict[str, Any] = field(default_factory=dict)
    insufficient: bool = False


@never_cache  # it shows a signed-in person their balance
@require_safe
def catalog(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"offers": offers()}
    if request.user.is_authenticated:
        context["balance"] = ledger.balance(request.user)
    return render(request, "playground/catalog.html", context)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def service(request: HttpRequest, slug: str) -> HttpResponse:
    """The service's form, its price and the person's balance; POST runs it. A service that
    does not exist or that staff disabled is a 404."""
    found = offer(slug)
    if found is None:
        raise Http404(_("There is no service %(slug)s.") % {"slug": slug})
    if request.method != "POST":
        return _page(request, found, _form(found))
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return _run(request, found)


def _form(found: Offer, data: Any = None) -> forms.Form | None:
    form_class = found.service.input_form
    return None if form_class is None else form_class(data)


def _page(
    request: HttpRequest,
    found: Offer,
    form: forms.Form | None,
    problem: Problem | None = None,
) -> HttpResponse:
    context: dict[str, Any] = {
        "offer": found,
        "form": form,
        # A new token for every form shown: a form that did not run may run once more.
        "token": new_token(),
        "problem": problem,
    }
    if request.user.is_authenticated:
        context["balance"] = ledger.balance(request.user)
    return render(request, "playground/service.html", context)


def _run(request: HttpRequest, found: Offer) -> HttpResponse:
    form = _form(found, request.POST)
    if form is not None and not form.is_valid():
        return _page(request, found, form)
    token = request.POST.get("run_token", "")
    if not TOKEN_PATTERN.fullmatch(token):
        return _page(
            request, found, form, Problem(_("This form has expired: check it and run it again."))
        )
    data = {} if form is None else _raw_input(form)
    try:
        run = execution.execute(
            request.user, found.slug, data, idempotency_key=f"playground:{token}"
        )
    except InsufficientCredits as error:
        problem = Problem(error.message, error.details or {}, insufficient=True)
    except InvalidInput as error:
        # The service's own ``validate`` refused what its form accepted.
        if form is None:
            problem = Problem(error.message)
        else:
            for name, messages in (error.details or {}).items():
                form.add_error(name if name in form.fields else None, messages)
            return _page(request, found, form)
    except (ServiceDisabled, ServiceNotFound):
        problem = Problem(_("This service cannot run at the moment. Nothing was charged."))
    except QueueUnavailable:
        problem = Problem(
            _(
                "Background runs cannot be queued at the moment. Nothing was charged: "
                "try again shortly."
            )
        )
    except IdempotencyConflict:
        problem = Problem(
            _("This form was already used for another run. Check it and run it again.")
        )
    else:
        return HttpResponseRedirect(reverse("users:run", args=[run.pk]), status=303)
    return _page(request, found, form, problem)


def _raw_input(form: forms.Form) -> dict[str, Any]:
    """The values as submitted, which ``execute`` validates with the service's form again
    (as it does for the API's JSON), rather than the cleaned ones (dates, decimals...)."""
    values = {name: form[name].data for name in form.fields}
    return {name: value for name, value in values.items() if value is not None}
