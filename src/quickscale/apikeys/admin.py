"""API keys in the Django admin: every key, read-only, and "Revoke selected keys".

Keys are created by their owners (the keys page) or by operators (``manage.py apikeys``), never
here, and no page shows a secret or its hash: the admin only reveals the masked key, which is
enough to recognise a key and useless to call the API with. Revoking goes through
:func:`quickscale.apikeys.keys.revoke_key`, which records who revoked the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from quickscale.apikeys import keys
from quickscale.apikeys.models import APIKey
from quickscale.core.users import owner_search_fields

if TYPE_CHECKING:
    APIKeyAdminBase = admin.ModelAdmin[APIKey]
else:
    APIKeyAdminBase = admin.ModelAdmin


class StatusFilter(admin.SimpleListFilter):
    """Filters the keys by status: active, expired or revoked."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("Active")), ("expired", _("Expired")), ("revoked", _("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "active":
            queryset = queryset.filter(revoked_at__isnull=True).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=now)
            )
        elif self.value() == "expired":
            queryset = queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        elif self.value() == "revoked":
            queryset = queryset.filter(revoked_at__isnull=False)
        return queryset


class APIKeyAdmin(APIKeyAdminBase):
    """Every key, read-only and without its hash; keys are revoked here, never made."""

    list_display = (
        "name",
        "owner",
        "masked_key",
        "environment",
        "scope_list",
        "active",
        "created_at",
        "expires_at",
        "last_used_at",
    )
    list_filter = ("environment", StatusFilter, "pepper_version")
    list_select_related = ("owner",)
    ordering = ("-id",)
    show_full_result_count = False
    # ``secret_hash`` is left out on purpose: it never appears on any admin page.
    fields = (
        "name",
        "owner",
        "masked_key",
        "environment",
        "scope_list",
        "allowed_ips",
        "rate_limit",
        "active",
        "created_at",
        "created_by",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
        "rotated_from",
        "last_used_at",
        "last_used_ip",
        "pepper_version",
    )
    readonly_fields = fields
    exclude = ("secret_hash",)
    actions = ("revoke_selected",)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["name", "=key_id", *owner_search_fields("owner")]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A revoked key keeps its row: it says who used what, when, until it was stopped.
        return False

    def has_revoke_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Revoking needs the model's change permission (the pages themselves are
        read-only)."""
        opts = self.opts
        codename = get_permission_codename("change", opts)
        return request.user.has_perm(f"{opts.app_label}.{codename}")

    @admin.display(description=_("key"), ordering="key_id")
    def masked_key(self, key: APIKey) -> str:
        return key.masked

    @admin.display(description=_("scopes"))
    def scope_list(self, key: APIKey) -> str:
        return ", ".join(key.scopes or []) or "-"

    @admin.display(description=_("active"), boolean=True)
    def active(self, key: APIKey) -> bool:
        return key.is_active

    @admin.action(description=_("Revoke selected keys"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            keys.revoke_key(key, by=request.user, reason="Revoked in the admin.")
            revoked += 1
        if revoked:
            message = ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", revoked) % {
                "count": revoked
            }
            self.message_user(request, message, messages.SUCCESS)
        else:
            self.message_user(request, _("The selected keys were revoked already."))


# Registered only with the admin installed: the default site cannot exist without it, and
# this module must still import in a project that leaves the admin out.
if apps.is_installed("django.contrib.admin"):
    admin.site.register(APIKey, APIKeyAdmin)
