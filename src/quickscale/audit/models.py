"""The audit log's tables.

``AuditEvent`` is append-only: the model and its queryset refuse updates and deletes, and on
PostgreSQL a trigger refuses them too (see :mod:`quickscale.audit.triggers`). Events are written
with empty hash columns, so writers never wait on one another; the sealing step
(:mod:`quickscale.audit.chain`) later gives each one its place in the hash chain. Actors and
targets are stored as text, never as foreign keys: an event outlives what it is about.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from quickscale.audit.exceptions import AppendOnly


class Outcome(models.TextChoices):
    """Whether the action an event records succeeded or failed."""

    SUCCESS = "success", _("success")
    FAILURE = "failure", _("failure")


class ActorType(models.TextChoices):
    """Who acted: a user, a user through one of their API keys, or the system."""

    USER = "user", _("user")
    API_KEY = "api_key", _("API key")
    SYSTEM = "system", _("system")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Queries on events, which are append-only: ``update()`` and ``delete()`` raise
    ``AppendOnly`` (``manage.py audit prune`` removes old events)."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("Audit events are append-only and cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly(
            "Audit events are append-only and cannot be deleted; use manage.py audit prune."
        )


class AuditEvent(models.Model):
    """One recorded action: who did it (from where, in which request), to what, how it ended
    and what it changed. Sealing later gives it its place in the hash chain."""

    occurred_at = models.DateTimeField(_("occurred at"), db_default=Now(), editable=False)
    #: Dotted, e.g. ``apikey.revoked`` or ``credits.granted``.
    action = models.CharField(_("action"), max_length=100)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS
    )
    #: Empty when nobody is known (a failed login, a change made outside any context).
    actor_type = models.CharField(
        _("actor type"), max_length=16, choices=ActorType.choices, blank=True
    )
    actor_id = models.CharField(_("actor id"), max_length=64, blank=True)
    actor_repr = models.CharField(_("actor"), max_length=255, blank=True)
    #: The public key id of the API key a request was authenticated with.
    api_key_id = models.CharField(_("API key id"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    #: ``app_label.modelname`` of what the event is about.
    target_type = models.CharField(_("target type"), max_length=100, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_repr = models.CharField(_("target"), max_length=255, blank=True)
    #: ``{field: [old, new]}``, sensitive fields masked.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    #: The event's place in the hash chain, given when it is sealed.
    chain_position = models.BigIntegerField(_("chain position"), null=True, editable=False)
    # NULL until sealed: the sealing step finds unsealed rows by it.
    prev_hash = models.CharField(  # noqa: DJ001
        _("previous hash"), max_length=64, null=True, editable=False
    )
    row_hash = models.CharField(  # noqa: DJ001
        _("row hash"), max_length=64, null=True, editable=False
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        app_label = "quickscale_audit"
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            # Each search of the staff page and the admin is one of these, newest first.
            models.Index(fields=["actor_id", "id"], name="qs_audit_actor"),
            models.Index(fields=["target_id", "target_type", "id"], name="qs_audit_target"),
            # varchar_pattern_ops (PostgreSQL) serves prefix searches ("credits.") too.
            models.Index(
                fields=["action", "id"],
                name="qs_audit_action",
                opclasses=["varchar_pattern_ops", "int8_ops"],
            ),
            models.Index(fields=["occurred_at"], name="qs_audit_time"),
            models.Index(
                fields=["request_id"], name="qs_audit_request", condition=~Q(request_id="")
            ),
            # The sealing step's queue: small, whatever the size of the log.
            models.Index(fields=["id"], name="qs_audit_unsealed", condition=Q(row_hash=None)),
        ]
        constraints = [
            # Partial: an event joins this index when it is sealed, not when it is written.
            models.UniqueConstraint(
                fields=["chain_position"],
                condition=Q(chain_position__isnull=False),
                name="quickscale_audit_unique_chain_position",
            ),
            models.CheckConstraint(
                condition=Q(chain_position=None, prev_hash=None, row_hash=None)
                | Q(
                    chain_position__isnull=False,
                    prev_hash__isnull=False,
                    row_hash__isnull=False,
                ),
                name="quickscale_audit_sealed_all_or_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_repr or self.actor_type or 'nobody'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("Audit events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly(
            "Audit events are append-only and cannot be deleted; use manage.py audit prune."
        )

    @property
    def sealed(self) -> bool:
        """Whether the event has been sealed into the hash chain."""
        return self.row_hash is not None


class ChainHead(models.Model):
    """The end of the sealed chain: one row, locked by the sealing step so two sealers never
    interleave, and read by ``verify`` to notice sealed events removed from the end."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    position = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "quickscale_audit"
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self) -> str:
        return f"audit chain sealed through position {self.position}"
