"""The "all apps" test project on the database of ``DATABASE_URL``, with persistent
connections, served over HTTP by ``tests.api.outage.serve``."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from tests.settings import *  # noqa: F403
from tests.settings import TEMPLATES

ROOT_URLCONF = "tests.api.outage.urls"
ALLOWED_HOSTS = ["127.0.0.1"]
# Connections outlive their request, so one broken by a restart would be reused if Django did
# not drop it after its error. No health checks: that drop alone must be enough.
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=600)}
TEMPLATES = [{**TEMPLATES[0], "DIRS": [Path(__file__).resolve().parent / "templates"]}]
