"""Automatic capture: receivers of the signals Django, django-allauth and the other quickscale
apps send, each recording one event in the transaction of the change it describes.

:func:`connect` wires them in ``AuditConfig.ready()``, only for the apps that are installed: the
audit log imports no other quickscale app unless that app is there. Each receiver checks
``captures(action)`` before doing any work, so an action turned off by ``QUICKSCALE_AUDIT_EXCLUDE``
costs one settings lookup.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections, router

from quickscale.audit.log import (
    COLUMNS,
    CURRENT,
    Target,
    captures,
    event_values,
    insert_fragment,
    masks,
    plain_event_values,
    record,
)
from quickscale.audit.models import AuditEvent
from quickscale.core.context import current

#: Ledger entry kinds recorded, and their actions.
CREDIT_ACTIONS = {
    "grant": "credits.granted",
    "debit": "credits.debited",
    "capture": "credits.captured",
    "adjustment": "credits.adjusted",
    "refund": "credits.refunded",
}
#: django-allauth signals recorded, and their actions.
ALLAUTH_ACTIONS = {
    "user_signed_up": "auth.signed_up",
    "password_set": "auth.password_set",
    "password_changed": "auth.password_changed",
    "password_reset": "auth.password_reset",
    "email_confirmed": "auth.email_confirmed",
    "email_added": "auth.email_added",
    "email_changed": "auth.email_changed",
    "email_removed": "auth.email_removed",
}
#: Django admin ``LogEntry.action_flag`` values, and their actions.
ADMIN_ACTIONS = {1: "admin.addition", 2: "admin.change", 3: "admin.deletion"}


def connect() -> None:
    """Connect the receivers of every installed app that sends what the audit log records."""
    from django.contrib.auth import signals as auth_signals

    auth_signals.user_logged_in.connect(logged_in, dispatch_uid="quickscale_audit.login")
    auth_signals.user_logged_out.connect(logged_out, dispatch_uid="quickscale_audit.logout")
    auth_signals.user_login_failed.connect(
        login_failed, dispatch_uid="quickscale_audit.login_failed"
    )
    if apps.is_installed("allauth.account"):
        connect_allauth()
    if apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.models import LogEntry
        from django.db.models.signals import post_save

        post_save.connect(admin_logged, sender=LogEntry, dispatch_uid="quickscale_audit.admin")
    if apps.is_installed("quickscale.apikeys"):
        from quickscale.apikeys import signals as key_signals

        key_signals.api_key_created.connect(key_created, dispatch_uid="quickscale_audit.key")
        key_signals.api_key_rolled.connect(key_rolled, dispatch_uid="quickscale_audit.key")
        key_signals.api_key_revoked.connect(key_revoked, dispatch_uid="quickscale_audit.key")
    if apps.is_installed("quickscale.credits"):
        from quickscale.credits.signals import ledger_entry_writing, ledger_entry_written

        # On PostgreSQL the event is part of the entry's own statement; elsewhere it is one
        # more INSERT in the entry's transaction. (The ledger writes to the default database.)
        ledger_entry_writing.connect(
            ledger_entry_in_statement, dispatch_uid="quickscale_audit.ledger"
        )
        if not in_statement(DEFAULT_DB_ALIAS):
            ledger_entry_written.connect(ledger_entry, dispatch_uid="quickscale_audit.ledger")
    if apps.is_installed("quickscale.services"):
        from quickscale.services.signals import catalog_changed

        catalog_changed.connect(catalog_change, dispatch_uid="quickscale_audit.catalog")
    if apps.is_installed("quickscale.billing"):
        from quickscale.billing.signals import billing_event

        billing_event.connect(billing, dispatch_uid="quickscale_audit.billing")


def connect_allauth() -> None:
    from allauth.account import signals as allauth_signals

    for name, action in ALLAUTH_ACTIONS.items():
        getattr(allauth_signals, name).connect(
            _allauth_receiver(action), weak=False, dispatch_uid=f"quickscale_audit.{action}"
        )


# -- logins ---------------------------------------------------------------------------------


def logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is not None and captures("auth.login"):
        record("auth.login", actor=user, target=user, request=request)


def logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is not None and captures("auth.logout"):
        record("auth.logout", actor=user, target=user, request=request)


def login_failed(sender: Any, credentials: Any = None, request: Any = None, **kwargs: Any) -> None:
    """A failed login names nobody as its actor; its target is the account the credentials
    named, when one exists (so repeated attempts on one account can be found)."""
    if not captures("auth.login_failed"):
        return
    credentials = credentials if isinstance(credentials, dict) else {}
    user_model = get_user_model()
    name = credentials.get(user_model.USERNAME_FIELD) or credentials.get("username")
    if name is None:
        name = credentials.get(user_model.get_email_field_name())
    name = str(name) if name is not None else ""
    found = (
        user_model._default_manager.filter(**{user_model.USERNAME_FIELD: name}).first()
        if name
        else None
    )
    target = Target.of(found) if found is not None else None
    if target is None and name:
        target = Target(user_model._meta.label_lower, "", name)
    record(
        "auth.login_failed",
        actor=None,
        target=target,
        outcome="failure",
        metadata={"username": name, "backend": str(kwargs.get("backend", "") or "")},
        request=request,
    )


def _allauth_receiver(action: str) -> Any:
    def receiver(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
        if not captures(action):
            return
        metadata: dict[str, Any] = {}
        address = kwargs.get("email_address") or kwargs.get("to_email_address")
        if address is not None:
            user = user or getattr(address, "user", None)
            metadata["email"] = str(getattr(address, "email", address))
        if kwargs.get("from_email_address") is not None:
            metadata["previous_email"] = str(kwargs["from_email_address"].email)
        actor = user if user is not None and user.is_authenticated else CURRENT
        record(action, actor=actor, target=user, metadata=metadata, request=request)

    return receiver


# -- the Django admin ------------------------------------------------------------------------


def admin_logged(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    """Mirror a Django admin ``LogEntry``: who did what to which object, and its message."""
    action = ADMIN_ACTIONS.get(instance.action_flag)
    if not created or action is None or not captures(action):
        return
    content_type = instance.content_type
    target_type = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    record(
        action,
        actor=instance.user,
        target=Target(target_type, instance.object_id or "", instance.object_repr),
        metadata={
            "change_message": instance.get_change_message(),
            "log_entry": instance.pk,
        },
        using=instance._state.db,
    )


# -- API keys --------------------------------------------------------------------------------


def _key_metadata(key: Any) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "owner": key.owner_id,
        "environment": key.environment,
        "scopes": list(key.scopes or []),
        "expires_at": key.expires_at,
    }


def key_created(sender: Any, key: Any, by: Any = None, **kwargs: Any) -> None:
    if captures("apikey.created"):
        record(
            "apikey.created",
            actor=by if by is not None else CURRENT,
            target=key,
            metadata=_key_metadata(key),
        )


def key_rolled(sender: Any, key: Any, previous: Any, by: Any = None, **kwargs: Any) -> None:
    if captures("apikey.rolled"):
        record(
            "apikey.rolled",
            actor=by if by is not None else CURRENT,
            target=previous,
            changes={"expires_at": [None, previous.expires_at]},
            metadata={**_key_metadata(previous), "replaced_by": key.key_id},
        )


def key_revoked(sender: Any, key: Any, by: Any = None, reason: str = "", **kwargs: Any) -> None:
    if captures("apikey.revoked"):
        record(
            "apikey.revoked",
            actor=by if by is not None else CURRENT,
            target=key,
            changes={"revoked_at": [None, key.revoked_at]},
            metadata={**_key_metadata(key), "reason": reason},
        )


# -- credits ---------------------------------------------------------------------------------


def in_statement(using: str) -> bool:
    """Whether events about ledger entries written to ``using`` ride in the entries' own
    statements: on PostgreSQL, when the audit log is in the same database."""
    return connections[using].vendor == "postgresql" and router.db_for_write(AuditEvent) == using


def _credit_event(entry: Any, owner_id: Any, amount: Any, actor_id: Any, actor: Any) -> Any:
    action = CREDIT_ACTIONS.get(entry.kind)
    if action is None or not captures(action):
        return None, None
    from quickscale.credits.amounts import display

    return action, {
        "actor": actor if actor_id is not None else CURRENT,
        # The owner is not loaded on the debit path: name the account by its owner's id.
        "target": Target(CREDIT_ACCOUNT, "", f"credits of user {owner_id}"),
        "metadata": {
            "entry": 0,  # set in SQL (or by the caller); a placeholder that masking would hide
            "owner": owner_id,
            "amount": display(amount),
            "reason": entry.reason,
            "reference": entry.reference,
        },
    }


def ledger_entry_in_statement(sender: Any, entry: Any, **kwargs: Any) -> None:
    """Grants, debits, captures, adjustments and refunds, as part of the entry's statement
    (receiver of ``ledger_entry_writing``): the account, the entry's id and the balances are
    read from the entry as it is written."""
    if not in_statement(entry.using):
        return
    action, event = _credit_event(
        entry, entry.owner_id, entry.amount, getattr(entry.actor, "pk", None), entry.actor
    )
    if event is None:
        return
    new = "quickscale_entry"
    places = int(settings.QUICKSCALE_CREDITS_DECIMAL_PLACES)
    if not masks("balance") and not masks("entry"):
        # A function installed by the migrations writes it, computing the balance's change: its
        # INSERT is planned once per connection rather than with every entry's statement.
        values = plain_event_values(action, **event) or event_values(action, **event)
        if values is None:
            return
        event = {key: values[key] for key in CREDIT_EVENT_KEYS}
        entry.evaluate_with(
            f"quickscale_audit_credit_event(%s::jsonb, {new}.id, {new}.account_id, "
            f"{new}.amount, {new}.balance_after, %s)",
            [json.dumps(event), places],
        )
        return
    # Masked columns keep the masked values computed in Python.
    values = event_values(action, changes={"balance": ["", ""]}, **event)  # set in SQL
    if values is None:
        return
    expressions = {"target_id": f"{new}.account_id::text"}
    if not masks("balance"):
        expressions["changes"] = (
            f"jsonb_build_object('balance', jsonb_build_array(round({new}.balance_after - "
            f"{new}.amount, {places})::text, round({new}.balance_after, {places})::text))"
        )
    if not masks("entry"):
        expressions["metadata"] = f"%s::jsonb || jsonb_build_object('entry', {new}.id)"
    entry.write_with(*insert_fragment(values, expressions, new))


#: The target type of credit events (``CreditAccount._meta.label_lower``).
CREDIT_ACCOUNT = "quickscale_credits.creditaccount"

#: What ``quickscale_audit_credit_event()`` reads of an event (it computes the rest).
CREDIT_EVENT_KEYS = tuple(column for column in COLUMNS if column not in ("target_id", "changes"))


def ledger_entry(sender: Any, entry: Any, account: Any, **kwargs: Any) -> None:
    """Grants, debits, captures, adjustments and refunds, one more INSERT in the entry's
    transaction (receiver of ``ledger_entry_written``, where events cannot ride in the
    entry's statement); holds, releases, expiries and bookkeeping entries are left to the
    ledger's own history."""
    if in_statement(entry._state.db):
        return  # recorded by ledger_entry_in_statement
    action, event = _credit_event(
        entry, account.owner_id, entry.amount, entry.actor_id, entry.actor
    )
    if event is None:
        return
    from quickscale.credits.amounts import display

    before = account.balance - entry.amount
    event["target"] = Target(event["target"].type, str(account.pk), event["target"].repr)
    event["metadata"]["entry"] = entry.pk
    record(
        action,
        changes={"balance": [display(before), display(account.balance)]},
        using=entry._state.db,
        **event,
    )


# -- services --------------------------------------------------------------------------------


def catalog_change(
    sender: Any,
    service: Any,
    changes: dict[str, list[Any]],
    created: bool = False,
    actor: Any = None,
    **kwargs: Any,
) -> None:
    """One event per kind of change: created, enabled or disabled, price changed, registered
    or unregistered (its code appeared or vanished), and any other change (name, description)
    as updated."""
    who = actor if actor is not None else CURRENT
    if created:
        _catalog_event("services.catalog.created", who, service, changes)
        return
    rest = dict(changes)
    if "enabled" in rest:
        action = "services.catalog.enabled" if service.enabled else "services.catalog.disabled"
        _catalog_event(action, who, service, {"enabled": rest.pop("enabled")})
    if "price_override" in rest:
        price = {"price_override": rest.pop("price_override")}
        _catalog_event("services.catalog.price_changed", who, service, price)
    if "registered" in rest:
        action = (
            "services.catalog.registered" if service.registered else "services.catalog.unregistered"
        )
        _catalog_event(action, who, service, {"registered": rest.pop("registered")})
    if rest:
        _catalog_event("services.catalog.updated", who, service, rest)


def _catalog_event(action: str, actor: Any, service: Any, changes: dict[str, Any]) -> None:
    if captures(action):
        record(action, actor=actor, target=service, changes=changes)


# -- billing ---------------------------------------------------------------------------------


def billing(
    sender: Any,
    action: str,
    user: Any = None,
    target: Any = None,
    metadata: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """A billing change: its actor is whoever the context names (staff refunding, the customer
    at checkout), else the customer the change belongs to (a Stripe webhook acts for them)."""
    if not captures(action):
        return
    record(
        action,
        actor=CURRENT if current().actor is not None else user,
        target=target,
        metadata={**(metadata or {}), "user": getattr(user, "pk", None)},
    )
