"""Finding events: one form of filters shared by the staff page, its export links and the
``audit export`` command, so each accepts exactly the same searches.

Every filter is served by an index: the actor and target ids, the action (exact, or a dotted
prefix such as ``credits.``), the request id and the time range.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from quickscale.audit.models import ActorType, AuditEvent, Outcome

#: ``apikey.revoked`` (exact), ``credits.`` or ``credits.*`` (every credits action).
ACTION_SEARCH_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.|\.\*)?")
TARGET_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*\.[a-z0-9_]+")


class EventFilterForm(forms.Form):
    """The filters of a search of the log: the action (exact, or a family), the actor and its
    type, the target, the outcome, the request id and the time range."""

    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=100,
        help_text=_("An action such as apikey.revoked, or a family such as credits.*"),
    )
    actor = forms.CharField(
        label=_("Actor"),
        required=False,
        max_length=255,
        help_text=_("A user id, username or email address (or any actor id)."),
    )
    actor_type = forms.ChoiceField(
        label=_("Actor type"),
        required=False,
        choices=[("", _("Any")), *ActorType.choices],
    )
    target_type = forms.CharField(
        label=_("Target type"),
        required=False,
        max_length=100,
        help_text=_("app_label.model, e.g. quickscale_apikeys.apikey"),
    )
    target_id = forms.CharField(label=_("Target id"), required=False, max_length=64)
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=[("", _("Any")), *Outcome.choices]
    )
    request_id = forms.CharField(label=_("Request id"), required=False, max_length=64)
    since = forms.DateTimeField(
        label=_("From"), required=False, help_text=_("e.g. 2026-01-31 or 2026-01-31 14:00")
    )
    until = forms.DateTimeField(label=_("Until (excluded)"), required=False)

    def clean_action(self) -> str:
        value: str = self.cleaned_data["action"].strip()
        if value and not ACTION_SEARCH_RE.fullmatch(value):
            raise ValidationError(
                _("Give an action such as apikey.revoked, or a family such as credits.*"),
                code="invalid",
            )
        return value

    def clean_target_type(self) -> str:
        value: str = self.cleaned_data["target_type"].strip().lower()
        if value and not TARGET_TYPE_RE.fullmatch(value):
            raise ValidationError(
                _("Give the target type as app_label.model, e.g. quickscale_apikeys.apikey."),
                code="invalid",
            )
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and until <= since:
            self.add_error("until", _("“Until” must be after “From”."))
        return data

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """``events`` narrowed to the form's (valid) filters."""
        data = self.cleaned_data
        action = data.get("action") or ""
        if action.endswith((".", ".*")):
            events = events.filter(action__startswith=action.rstrip("*"))
        elif action:
            events = events.filter(action=action)
        if data.get("actor"):
            events = events.filter(actor_query(data["actor"].strip()))
        if data.get("actor_type"):
            events = events.filter(actor_type=data["actor_type"])
        if data.get("target_type"):
            events = events.filter(target_type=data["target_type"])
        if data.get("target_id"):
            events = events.filter(target_id=data["target_id"].strip())
        if data.get("outcome"):
            events = events.filter(outcome=data["outcome"])
        if data.get("request_id"):
            events = events.filter(request_id=data["request_id"].strip())
        if data.get("since") is not None:
            events = events.filter(occurred_at__gte=data["since"])
        if data.get("until") is not None:
            events = events.filter(occurred_at__lt=data["until"])
        return events

    def errors_text(self) -> str:
        """The form's errors on one line, for a command."""
        return "; ".join(
            f"{name if name != '__all__' else 'filters'}: {' '.join(map(str, messages))}"
            for name, messages in self.errors.items()
        )


def actor_query(text: str) -> Q:
    """Events whose actor id is ``text``, or the id of the user whose username or email is
    ``text``."""
    ids = {text}
    user_model = get_user_model()
    names = [user_model.USERNAME_FIELD, user_model.get_email_field_name()]
    for name in dict.fromkeys(names):
        try:
            user_model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        ids.update(
            str(pk)
            for pk in user_model._default_manager.filter(**{name: text}).values_list(
                "pk", flat=True
            )[:5]
        )
    return Q(actor_id__in=sorted(ids))
