"""The service catalog and the record of every run.

``Service`` mirrors the registered classes so staff can price, enable and disable them without
a deploy; ``ServiceRun`` records each execution with its charge.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from quickscale.credits.amounts import MAX_DIGITS, STORED_PLACES


class Service(models.Model):
    """A registered service as the catalog lists it: staff enable or disable it and may
    override its price. ``registered`` turns False when its class is gone."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(
        default=True, help_text=_("Disabled services refuse to run and are hidden from users.")
    )
    price_override = models.DecimalField(
        max_digits=MAX_DIGITS,
        decimal_places=STORED_PLACES,
        null=True,
        blank=True,
        help_text=_("Charge this instead of the price the service computes."),
    )
    #: False when the class is no longer registered (its app was removed).
    registered = models.BooleanField(default=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "quickscale_services"
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.CheckConstraint(
                condition=Q(price_override__isnull=True) | Q(price_override__gte=0),
                name="quickscale_services_price_not_negative",
            )
        ]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    """Where a run stands: queued (waiting for a worker), running, succeeded or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunMode(models.TextChoices):
    """How a run is charged: ``held`` holds its cost while it runs, then captures what it
    charged; ``inline`` debits it in the transaction the service runs in."""

    HELD = "held"
    INLINE = "inline"


class ServiceRun(models.Model):
    """One run of a service for a user: its status, the credits reserved and charged (with
    their hold and ledger entry), its output or error, and its times."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="service_runs"
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    mode = models.CharField(max_length=10, choices=RunMode.choices)
    #: Credits held (held mode) or debited (inline) when the run started.
    reserved = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=STORED_PLACES)
    #: Credits finally charged: 0 for a failed run.
    cost = models.DecimalField(
        max_digits=MAX_DIGITS, decimal_places=STORED_PLACES, null=True, blank=True
    )
    hold = models.ForeignKey(
        "quickscale_credits.CreditHold",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    #: The ledger entry that charged the run: the debit (inline) or the capture (held).
    charge = models.ForeignKey(
        "quickscale_credits.CreditTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    input_digest = models.CharField(max_length=64)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # NULL, not "", for "no key": the unique constraint applies to keys only.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    #: Not stored: the owner's balance right after this call charged the run (an inline run
    #: that charged something), else ``None``.
    balance_after: Decimal | None = None
    #: Not stored: ``True`` when ``execute()`` returned this run to a call whose idempotency
    #: key an earlier call had already used (a replay, even one that arrived while the first
    #: call was still running), else ``False``.
    replayed: bool = False

    class Meta:
        app_label = "quickscale_services"
        verbose_name = _("service run")
        verbose_name_plural = _("service runs")
        indexes = [
            models.Index(fields=["user", "-id"], name="qs_services_run_user"),
            models.Index(
                fields=["status", "created_at"],
                name="qs_services_run_open",
                condition=Q(status__in=["queued", "running"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="quickscale_services_unique_run_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} run {self.pk} ({self.status})"
