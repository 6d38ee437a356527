from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdminDashboardConfig(AppConfig):
    """``/dashboard/``: the staff's pages, in the site's own layout."""

    name = "admin_dashboard"
    verbose_name = _("Staff dashboard")
