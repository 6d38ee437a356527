"""Services with a host app's services (tests.hostapp), so the admin lists a catalog and a run."""

from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS

INSTALLED_APPS = [
    *DJANGO_APPS,
    "quickscale.credits",
    "quickscale.services",
    "tests.hostapp",
]
