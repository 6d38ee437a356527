"""Every app imports, passes its checks and migrates alone (with only the apps it depends on)
and all together; a missing dependency is a named system check error, never an ImportError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def exercise(project: str, database_url: str) -> dict[str, Any]:
    """Run ``tests/projects/exercise.py`` for a settings project in a fresh process."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"tests.projects.{project}",
        "DATABASE_URL": database_url,
        "PYTHONWARNINGS": "error",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.projects.exercise"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


COMPLETE_PROJECTS = {
    "core_only": ["quickscale_core"],
    "credits_only": ["quickscale_credits"],
    "services_only": ["quickscale_credits", "quickscale_services"],
    "apikeys_only": ["quickscale_apikeys"],
    "billing_only": ["quickscale_credits", "quickscale_billing"],
    "audit_only": ["quickscale_audit"],
    "api_only": [
        "quickscale_credits",
        "quickscale_services",
        "quickscale_apikeys",
        "quickscale_api",
    ],
    "all_apps": [
        "quickscale_core",
        "quickscale_credits",
        "quickscale_services",
        "quickscale_apikeys",
        "quickscale_billing",
        "quickscale_audit",
        "quickscale_api",
    ],
}


@pytest.mark.parametrize(("project", "labels"), COMPLETE_PROJECTS.items())
def test_app_combination_imports_checks_and_migrates(
    project: str, labels: list[str], scratch_database_url: str
) -> None:
    report = exercise(project, scratch_database_url)

    installed = [label for label in report["installed"] if label.startswith("quickscale_")]
    assert installed == labels
    for label in labels:
        package = "quickscale." + label.removeprefix("quickscale_")
        assert f"{package}.apps" in report["imported"]
        assert f"{package}.conf" in report["imported"]
    assert report["check"] == "passed", report["check_output"]
    assert report["unapplied"] == []
    assert report["makemigrations_check"] == "clean"


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        ("services_without_credits", {"quickscale_services.E001": "quickscale.credits"}),
        ("billing_without_credits", {"quickscale_billing.E001": "quickscale.credits"}),
        (
            "api_without_dependencies",
            {
                "quickscale_api.E001": "quickscale.credits",
                "quickscale_api.E002": "quickscale.services",
                "quickscale_api.E003": "quickscale.apikeys",
            },
        ),
    ],
)
def test_missing_dependency_is_a_system_check_error_naming_the_app(
    project: str, expected: dict[str, str], scratch_database_url: str
) -> None:
    report = exercise(project, scratch_database_url)

    assert report["check"] == "failed"
    for check_id, missing_app in expected.items():
        line = next(
            line
            for line in report["check_output"].splitlines()
            if line.startswith(f"?: ({check_id})")
        )
        assert f"requires '{missing_app}'" in line
