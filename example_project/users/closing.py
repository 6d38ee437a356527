"""Closing an account, the one flow of the account area that changes more than a form.

The account is closed, not deleted. Its runs, ledger entries, payments and billing customer
refer to the user and must stay (the books have to balance, and the law asks to keep payment
records), so the row stays too, emptied of what identifies the person:

* the remaining available credits are removed through the ledger, as an adjustment the person
  made, so the statement still adds up and nothing is refunded;
* every API key is revoked at once;
* the email address is replaced by a placeholder and the allauth addresses are deleted, so
  the address is free to sign up again; the name is cleared and the password made unusable,
  which also ends every other session of the account;
* the account is deactivated: nobody can log in to it again.

Each step is recorded in the audit log by the app that does it (the ledger, the keys), and the
closing itself as ``account.closed``. All of it happens in one transaction: a failure half-way
changes nothing.

An account is not closed while a service is running for it (its credits are held and would
come back after the closing) or while a plan would renew and charge it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction

from quickscale.apikeys.keys import list_keys, revoke_key
from quickscale.credits import ledger
from quickscale.credits.amounts import display
from quickscale.credits.exceptions import InsufficientCredits

#: The domain of the placeholder addresses of closed accounts (``.invalid`` never resolves).
CLOSED_DOMAIN = "closed.invalid"


@dataclass(frozen=True)
class Consequences:
    """What closing the account now would do, for the page that asks to confirm it."""

    #: Credits that would be removed (the available ones).
    forfeited: Decimal
    #: API keys that would stop working.
    active_keys: int
    #: A service is running for the account: its credits are held.
    running: bool
    #: A plan would renew and charge the person again.
    renewing_plan: bool

    @property
    def blocked(self) -> bool:
        """Whether the account cannot be closed now."""
        return self.running or self.renewing_plan


def consequences(user: Any) -> Consequences:
    balance = ledger.balance(user)
    return Consequences(
        forfeited=balance.available,
        active_keys=len(_active_keys(user)),
        running=bool(balance.held),
        renewing_plan=_renewing_plan(user),
    )


class CannotClose(Exception):
    """The account cannot be closed now; ``consequences`` says why."""

    def __init__(self, consequences: Consequences) -> None:
        super().__init__("The account cannot be closed now.")
        self.consequences = consequences


@dataclass(frozen=True)
class Closed:
    forfeited: Decimal
    keys_revoked: int


def close_account(user: Any) -> Closed:
    """Close ``user``'s account as the module says; raises ``CannotClose`` when it cannot be
    closed now. The caller logs the person out."""
    model = get_user_model()
    with transaction.atomic():
        # Locked, so two closing requests at once close it once.
        locked = model._default_manager.select_for_update().get(pk=user.pk)
        if not locked.is_active:
            return Closed(Decimal(0), 0)
        now = consequences(locked)
        if now.blocked:
            raise CannotClose(now)
        keys = _active_keys(locked)
        for key in keys:
            revoke_key(key, by=locked, reason="account closed")
        forfeited = _forfeit(locked)
        _record_closing(locked, forfeited, len(keys))
        EmailAddress.objects.filter(user=locked).delete()
        locked.email = f"closed-{locked.pk}@{CLOSED_DOMAIN}"
        locked.first_name = locked.last_name = ""
        locked.is_active = locked.is_staff = locked.is_superuser = False
        locked.set_unusable_password()
        locked.save()
    return Closed(forfeited, len(keys))


#: How many times the available credits are read again when a run spent some meanwhile.
FORFEIT_ATTEMPTS = 3


def _forfeit(user: Any) -> Decimal:
    """Remove the available credits through the ledger; what was removed.

    Until this transaction commits, the account's keys still work for other requests, so a run
    may spend credits between the reading and the removal: the ledger then refuses to remove
    more than is available, and the amount is read again.
    """
    for attempt in range(1, FORFEIT_ATTEMPTS + 1):
        available = ledger.balance(user).available
        if available <= 0:
            return Decimal(0)
        try:
            ledger.adjust(
                user,
                -available,
                reason="Account closed: remaining credits forfeited",
                actor=user,
                idempotency_key=f"account-closed:{user.pk}",
            )
        except InsufficientCredits:
            if attempt == FORFEIT_ATTEMPTS:
                raise
            continue
        return available
    return Decimal(0)  # pragma: no cover (the loop returns or raises)


def _active_keys(user: Any) -> list[Any]:
    return [key for key in list_keys(user) if key.revoked_at is None]


def _renewing_plan(user: Any) -> bool:
    if not apps.is_installed("quickscale.billing"):
        return False
    from quickscale.billing.checkout import live_subscription

    plan = live_subscription(user)
    return plan is not None and not plan.cancel_at_period_end


def _record_closing(user: Any, forfeited: Decimal, keys: int) -> None:
    """``account.closed`` in the audit log, while the account still shows who it was."""
    if not apps.is_installed("quickscale.audit"):
        return
    from quickscale.audit.log import record

    record(
        "account.closed",
        actor=user,
        target=user,
        metadata={"credits_forfeited": display(forfeited), "api_keys_revoked": keys},
    )
