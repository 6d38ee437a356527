"""The release metadata has one version, and the changelog keeps to Keep a Changelog."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import quickscale

ROOT = Path(__file__).resolve().parent.parent
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
#: The only subsections Keep a Changelog (1.1.0) defines.
SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_the_package_metadata_has_the_version_of_quickscale() -> None:
    assert version("django-quickscale") == quickscale.__version__


def test_pyproject_takes_the_version_from_the_package_only() -> None:
    # tomllib is Python 3.11+; the two tables are read by their lines.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = pyproject.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    hatch_version = pyproject.split("\n[tool.hatch.version]\n", 1)[1].split("\n[", 1)[0]

    assert not re.search(r"^version\s*=", project, flags=re.MULTILINE)
    assert re.search(r'^dynamic = \[.*"version".*\]$', project, flags=re.MULTILINE)
    assert hatch_version.strip() == 'path = "src/quickscale/__init__.py"'


def test_the_changelog_has_an_unreleased_section_with_its_link() -> None:
    releases = re.findall(r"^## (.+)$", CHANGELOG, flags=re.MULTILINE)

    assert releases[0] == "[Unreleased]"
    assert re.search(r"^\[Unreleased\]: https://\S+$", CHANGELOG, flags=re.MULTILINE)


def test_the_changelog_uses_only_keep_a_changelog_sections() -> None:
    sections = set(re.findall(r"^### (.+?)\s*$", CHANGELOG, flags=re.MULTILINE))

    assert sections
    assert sections <= SECTIONS, sections - SECTIONS
