"""API keys without quickscale.core, in a project that provides the layout template itself."""

from pathlib import Path

from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS, KEY_MIDDLEWARE, TEMPLATES

INSTALLED_APPS = [
    *DJANGO_APPS,
    "quickscale.apikeys",
]
# The API key middleware, as the apps' docs install it.
MIDDLEWARE = KEY_MIDDLEWARE
# The project supplies "quickscale/base.html" itself, so quickscale.core is not needed.
TEMPLATES = [{**TEMPLATES[0], "DIRS": [Path(__file__).resolve().parent / "templates"]}]
