"""Stored API keys: the public key id and an HMAC of the secret, never the secret itself."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class APIKeyQuerySet(models.QuerySet["APIKey"]):
    """``APIKey.objects``: the keys, with a shortcut to the usable ones."""

    def active(self) -> APIKeyQuerySet:
        """The keys neither revoked nor expired."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class APIKey(models.Model):
    """An API key of a user. The token itself is shown once, when the key is made; only its key
    id and an HMAC of its secret are kept."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    #: The public part of the token that finds the key; unique and indexed.
    key_id = models.CharField(max_length=12, unique=True, editable=False)
    environment = models.CharField(
        max_length=4, choices=[("live", "live"), ("test", "test")], default="live"
    )
    #: HMAC-SHA256 of the secret with the server's pepper of ``pepper_version``.
    secret_hash = models.CharField(max_length=64, editable=False)
    pepper_version = models.PositiveSmallIntegerField(editable=False)
    #: ``["credits:read", "services:write", ...]``; write implies read; nothing else is allowed.
    scopes = models.JSONField(default=list)
    allowed_ips = models.JSONField(
        default=list, blank=True, help_text=_("Networks the key may be used from; empty: any.")
    )
    #: Requests per minute; the ``QUICKSCALE_APIKEYS_RATE_LIMIT`` setting when empty.
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_reason = models.CharField(max_length=255, blank=True)
    #: The key this one replaced when it was rolled.
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = APIKeyQuerySet.as_manager()

    class Meta:
        app_label = "quickscale_apikeys"
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        indexes = [models.Index(fields=["owner", "-created_at"], name="qs_apikeys_owner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def masked(self) -> str:
        """How the key is shown after its creation: enough to recognise it, nothing to use."""
        return f"{settings.QUICKSCALE_APIKEYS_PREFIX}_{self.environment}_{self.key_id}.…"

    @property
    def is_active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    def has_scope(self, scope: str) -> bool:
        """``resource:read`` is granted by ``resource:read`` or ``resource:write``."""
        resource, _, access = scope.partition(":")
        granted = set(self.scopes or [])
        return scope in granted or (access == "read" and f"{resource}:write" in granted)
