"""Users: the searchable list, and one user's page, where staff grant or deduct credits and
revoke API keys. Every change goes through the library's operations with the staff member as
the actor, so the ledger and the audit log both say who made it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.account.models import EmailAddress
from common.decorators import (
    CHANGE_CREDITS,
    CHANGE_KEYS,
    staff_permission_required,
    staff_required,
)
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from admin_dashboard.forms import DeductCreditsForm, GrantCreditsForm, OneTimeForm, UserSearchForm
from admin_dashboard.views.common import RECENT, paginate, query_without
from quickscale.apikeys.keys import list_keys
from quickscale.apikeys.keys import revoke_key as revoke
from quickscale.apikeys.models import APIKey
from quickscale.audit.models import ActorType, AuditEvent
from quickscale.billing.models import LIVE_STATUSES, Payment, Subscription
from quickscale.core.errors import QuickScaleError
from quickscale.credits import ledger
from quickscale.credits.amounts import for_people
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.credits.models import CreditAccount, CreditTransaction, TransactionKind
from quickscale.services.models import ServiceRun

#: The audit log's target type of credit events (the account's model label).
CREDIT_ACCOUNT = CreditAccount._meta.label_lower
API_KEY = APIKey._meta.label_lower


@staff_required
def user_list(request: HttpRequest) -> HttpResponse:
    form = UserSearchForm(request.GET)
    users = get_user_model()._default_manager.select_related("credit_account")
    if form.is_valid():
        users = form.filter(users)
    page = paginate(request, users.order_by("-date_joined", "-pk"))
    return render(
        request,
        "admin_dashboard/users.html",
        {"form": form, "page": page, "query": query_without(request, "page")},
    )


def _audit_events(user: Any, account: CreditAccount | None, keys: list[APIKey]) -> list[Any]:
    """The latest events by the user or about them (their account, credits and keys): each
    condition is one of the audit log's indexes."""
    about = Q(actor_type__in=[ActorType.USER, ActorType.API_KEY], actor_id=str(user.pk))
    about |= Q(target_type=user._meta.label_lower, target_id=str(user.pk))
    if account is not None:
        about |= Q(target_type=CREDIT_ACCOUNT, target_id=str(account.pk))
    if keys:
        about |= Q(target_type=API_KEY, target_id__in=[str(key.pk) for key in keys])
    return list(AuditEvent.objects.filter(about).defer("user_agent").order_by("-id")[:RECENT])


def _user_page(
    request: HttpRequest,
    user: Any,
    *,
    grant_form: GrantCreditsForm | None = None,
    deduct_form: DeductCreditsForm | None = None,
) -> HttpResponse:
    account = ledger.get_account(user)
    keys = list_keys(user)
    entries = (
        CreditTransaction.objects.filter(account__owner=user)
        .exclude(kind=TransactionKind.ALLOCATION)
        .select_related("actor", "grant")
        .order_by("-id")[:RECENT]
    )
    context = {
        "member": user,
        "verified": EmailAddress.objects.filter(user=user, verified=True).exists(),
        "account": account,
        "balance": ledger.balance(user),
        "grants": ledger.grants(user),
        "entries": entries,
        "keys": keys,
        "subscription": Subscription.objects.filter(user=user, status__in=LIVE_STATUSES)
        .select_related("price__product")
        .first(),
        "payments": Payment.objects.filter(user=user)
        .select_related("price__product")
        .order_by("-created_at")[:RECENT],
        "runs": ServiceRun.objects.filter(user=user)
        .select_related("service")
        .order_by("-id")[:RECENT],
        "events": _audit_events(user, account, keys),
        "credit_account_type": CREDIT_ACCOUNT,
        "grant_form": grant_form or GrantCreditsForm(),
        "deduct_form": deduct_form or DeductCreditsForm(),
    }
    return render(request, "admin_dashboard/user_detail.html", context)


@staff_required
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model()._default_manager, pk=user_id)
    return _user_page(request, user)


def _change_credits(
    request: HttpRequest,
    user: Any,
    form: OneTimeForm,
    change: Callable[[], CreditTransaction],
    done: str,
) -> bool:
    """Make the change the form asks for, once: ``True`` when the page may move on (the change
    was made now or by an earlier submission of the same form), ``False`` when the form has
    errors to show.

    A form whose token the account's ledger already holds was sent before: nothing is changed
    and the staff member is told so. Two copies sent at the very same moment are both let
    through to the ledger, whose key makes the second one return the first one's entry.
    """
    key = form.idempotency_key
    if CreditTransaction.objects.filter(account__owner=user, idempotency_key=key).exists():
        messages.info(
            request,
            _(
                "This form was sent already: nothing more was changed. Fill it in again to "
                "make another change."
            ),
        )
        return True
    try:
        entry = change()
    except IdempotencyConflict:
        form.add_error(
            None,
            _(
                "This form was already sent with other values. Check the balance, then send "
                "it again to make another change."
            ),
        )
        form.renew_token()
        return False
    except QuickScaleError as error:
        field = error.details.get("field") if isinstance(error.details, dict) else None
        if isinstance(error, InsufficientCredits):
            field = "amount"
        form.add_error(field if field in form.fields else None, error.message)
        return False
    messages.success(
        request,
        done
        % {
            "amount": for_people(abs(entry.amount)),
            "user": user.email,
            "balance": for_people(entry.balance_after),
        },
    )
    return True


def _back_to(user: Any) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("admin_dashboard:user", args=[user.pk]))


@staff_permission_required(CHANGE_CREDITS)
@require_POST
def grant_credits(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model()._default_manager, pk=user_id)
    form = GrantCreditsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data

        def change() -> CreditTransaction:
            return ledger.grant(
                user,
                data["amount"],
                source=data["source"],
                expires_at=form.expires_at,
                actor=request.user,
                reason=data["reason"],
                idempotency_key=form.idempotency_key,
            )

        done = _("Granted %(amount)s credits to %(user)s: the balance is now %(balance)s.")
        if _change_credits(request, user, form, change, done):
            return _back_to(user)
    return _user_page(request, user, grant_form=form)


@staff_permission_required(CHANGE_CREDITS)
@require_POST
def deduct_credits(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model()._default_manager, pk=user_id)
    form = DeductCreditsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data

        def change() -> CreditTransaction:
            return ledger.adjust(
                user,
                -data["amount"],
                reason=data["reason"],
                actor=request.user,
                idempotency_key=form.idempotency_key,
            )

        done = _("Deducted %(amount)s credits from %(user)s: the balance is now %(balance)s.")
        if _change_credits(request, user, form, change, done):
            return _back_to(user)
    return _user_page(request, user, deduct_form=form)


@staff_permission_required(CHANGE_KEYS)
@require_POST
def revoke_key(request: HttpRequest, user_id: int, key_id: int) -> HttpResponse:
    """Stop one of the user's API keys at once (revoking a revoked key changes nothing)."""
    key = get_object_or_404(APIKey.objects.select_related("owner"), pk=key_id, owner_id=user_id)
    if key.revoked_at is not None:
        messages.info(request, _("The key “%(name)s” was revoked already.") % {"name": key.name})
    else:
        revoke(key, by=request.user, reason="revoked by staff from the dashboard")
        messages.success(
            request,
            _("Revoked the key “%(name)s”: it is refused from now on.") % {"name": key.name},
        )
    return _back_to(key.owner)
