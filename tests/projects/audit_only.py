from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS

INSTALLED_APPS = [
    *DJANGO_APPS,
    "quickscale.core",
    "quickscale.audit",
]
