"""The URLs of the audit benchmark's project (``benchmarks/bench_audit.py``): the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
