"""The URLs of a partial project: each installed app's, where the docs suggest including them."""

from __future__ import annotations

from django.apps import apps
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = []

if apps.is_installed("django.contrib.admin"):
    from django.contrib import admin

    urlpatterns.append(path("admin/", admin.site.urls))
if apps.is_installed("quickscale.apikeys"):
    urlpatterns.append(path("users/api-keys/", include("quickscale.apikeys.urls")))
if apps.is_installed("quickscale.billing"):
    urlpatterns.append(path("billing/", include("quickscale.billing.urls")))
if apps.is_installed("quickscale.audit"):
    urlpatterns.append(path("dashboard/audit/", include("quickscale.audit.urls")))
if apps.is_installed("quickscale.api"):
    urlpatterns.append(path("api/", include("quickscale.api.urls")))
