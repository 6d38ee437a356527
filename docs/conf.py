"""Sphinx configuration of the django-quickscale documentation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
# The package from the source tree, and the test project whose settings install every app, so
# that autodoc imports each module as a host project would.
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

import quickscale  # noqa: E402

project = "django-quickscale"
author = "django-quickscale developers"
copyright = "django-quickscale developers"
# The one version, quickscale.__version__ (hatchling reads it too).
release = quickscale.__version__
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc"]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
language = "en"
# Not nitpicky: the API reference names Django's and the standard library's types, which these
# docs do not link to. Should a build ask for it (-n), those references are not errors either.
nitpicky = False
nitpick_ignore_regex = [(r"py:.*", r".*")]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"django-quickscale {release}"
