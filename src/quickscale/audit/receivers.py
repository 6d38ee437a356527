"""Automatic capture: receivers of the signals Django and django-allauth send, and of the one
event every quickscale app announces (:data:`quickscale.core.events.event`), each recording one
event in the transaction of the change it describes.

:func:`connect` wires them in ``AuditConfig.ready()``. The audit log imports no other quickscale
app: credits, services, API keys and billing describe their own events. Each receiver checks
``captures(action)`` before doing any work, so an action turned off by ``QUICKSCALE_AUDIT_EXCLUDE``
costs one settings lookup.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model

from quickscale.audit.log import CURRENT, Target, captures, record
from quickscale.core import events

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
    events.event.connect(happened, dispatch_uid="quickscale_audit.events")


def connect_allauth() -> None:
    """Connect a receiver to each django-allauth signal of :data:`ALLAUTH_ACTIONS`."""
    from allauth.account import signals as allauth_signals

    for name, action in ALLAUTH_ACTIONS.items():
        getattr(allauth_signals, name).connect(
            _allauth_receiver(action), weak=False, dispatch_uid=f"quickscale_audit.{action}"
        )


# -- logins ---------------------------------------------------------------------------------


def logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """Record ``auth.login``, the user who signed in as actor and target."""
    if user is not None and captures("auth.login"):
        record("auth.login", actor=user, target=user, request=request)


def logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """Record ``auth.logout``, the user who signed out as actor and target (nothing for a
    visitor who was not signed in)."""
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


# -- the quickscale apps ---------------------------------------------------------------------


def happened(sender: Any, event: events.Event, **kwargs: Any) -> None:
    """Record an event a quickscale app announced, in the transaction of the change it
    describes (receiver of :data:`quickscale.core.events.event`)."""
    if captures(event.action):
        record(
            event.action,
            actor=event.actor,
            target=event.target,
            changes=event.changes,
            metadata=event.metadata,
            outcome=event.outcome,
            using=event.using,
        )
