"""Run inside a partial project: import, check, migrate, render every page (see
``tests/projects/pages.py``), and report what happened as JSON.

Run as ``python -m tests.projects.exercise`` with ``DJANGO_SETTINGS_MODULE`` set. A separate
process per project is needed because Django's app registry is built once per process.
"""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
import sys

import django
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tests.projects.pages import render_pages


def quickscale_modules() -> list[str]:
    """Every module of the quickscale apps that are installed."""
    names = []
    for config in apps.get_app_configs():
        if not config.name.startswith("quickscale."):
            continue
        names.append(config.name)
        for info in pkgutil.walk_packages(config.module.__path__, prefix=config.name + "."):
            names.append(info.name)
    return names


def import_all(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Import every module; an adapter for an optional package (``<app>.contrib.*``) whose
    package is not installed is reported with the package it lacks, anything else raises."""
    imported, lacking = [], {}
    for name in names:
        try:
            imported.append(importlib.import_module(name).__name__)
        except ModuleNotFoundError as error:
            missing = error.name or ""
            if ".contrib." not in name or missing.split(".")[0] == "quickscale":
                raise
            lacking[name] = missing
    return imported, lacking


def main() -> int:
    django.setup()
    report: dict[str, object] = {"installed": [c.label for c in apps.get_app_configs()]}
    report["imported"], report["adapters_without_their_package"] = import_all(quickscale_modules())
    out = io.StringIO()
    try:
        call_command("check", fail_level="WARNING", stdout=out, stderr=out)
    except SystemCheckError as error:
        report["check"] = "failed"
        report["check_output"] = str(error)
        print(json.dumps(report))
        return 0
    report["check"] = "passed"
    report["check_output"] = out.getvalue()
    call_command("migrate", interactive=False, verbosity=0)
    loader = MigrationLoader(connection)
    report["unapplied"] = sorted(
        f"{app}.{name}" for app, name in set(loader.graph.nodes) - set(loader.applied_migrations)
    )
    report["applied_quickscale"] = sorted(
        f"{app}.{name}" for app, name in loader.applied_migrations if app.startswith("quickscale_")
    )
    try:
        call_command("makemigrations", check=True, dry_run=True, verbosity=0)
    except SystemExit:
        report["makemigrations_check"] = "changes"
    else:
        report["makemigrations_check"] = "clean"
    report.update(render_pages())
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
