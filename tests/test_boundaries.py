"""The apps keep to their boundaries: an app imports only the apps it depends on, and no app's
code names another app's tables, literally or through a model's ``_meta.db_table`` (so none
sends SQL about them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "quickscale"
APPS = ("core", "credits", "services", "apikeys", "billing", "audit", "api")
#: What each app may import besides itself (DESIGN.md: one-way dependencies).
ALLOWED = {
    "core": set(),
    "credits": {"core"},
    "services": {"core", "credits"},
    "apikeys": {"core"},
    "billing": {"core", "credits"},
    "audit": {"core"},
    "api": {"core", "credits", "services", "apikeys"},
}
IMPORT = re.compile(r"^\s*(?:from|import)\s+quickscale\.(\w+)", re.MULTILINE)
TABLE = re.compile(r"quickscale_(credits|services|apikeys|billing|audit)_[a-z]+")
DB_TABLE = re.compile(r"\b(\w+)\._meta\.db_table")
MODEL = re.compile(r"^class (\w+)\(.*Model\):", re.MULTILINE)


def models_of(app: str) -> set[str]:
    path = SRC / app / "models.py"
    return set(MODEL.findall(path.read_text())) if path.exists() else set()


def sources(app: str) -> list[Path]:
    return [path for path in (SRC / app).rglob("*.py") if "migrations" not in path.parts]


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_only_the_apps_it_depends_on(app: str) -> None:
    found = {
        f"{path.relative_to(SRC)} imports quickscale.{other}"
        for path in sources(app)
        for other in IMPORT.findall(path.read_text())
        if other in APPS and other != app and other not in ALLOWED[app]
    }

    assert found == set()


@pytest.mark.parametrize("app", APPS)
def test_no_app_names_another_apps_tables(app: str) -> None:
    found = {
        f"{path.relative_to(SRC)} names {match.group(0)}"
        for path in sources(app)
        for match in TABLE.finditer(path.read_text())
        if match.group(1) != app
    }
    others = set().union(*(models_of(other) for other in APPS if other != app))
    found |= {
        f"{path.relative_to(SRC)} reads the table of {name}"
        for path in sources(app)
        for name in DB_TABLE.findall(path.read_text())
        if name in others
    }

    assert found == set()
