"""Sphinx configuration of the django-quickscale documentation."""

from __future__ import annotations

import sys
from pathlib import Path

# The version comes from the package itself; importing it needs no Django set-up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import quickscale

project = "django-quickscale"
author = "django-quickscale developers"
copyright = "django-quickscale developers"
release = quickscale.__version__
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser"]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
language = "en"
nitpicky = True

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"django-quickscale {release}"
