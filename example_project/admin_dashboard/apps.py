from __future__ import annotations

from django.apps import AppConfig


class AdminDashboardConfig(AppConfig):
    """``/dashboard/``: the staff's pages, in the site's own layout."""

    name = "admin_dashboard"
    verbose_name = "Staff dashboard"
