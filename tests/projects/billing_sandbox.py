"""Billing with its payment sandbox active (development: DEBUG on), so its sandbox pages,
checkout's success page and the staff's tools render for real."""

from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS

INSTALLED_APPS = [
    *DJANGO_APPS,
    "quickscale.core",
    "quickscale.credits",
    "quickscale.billing",
]
DEBUG = True
QUICKSCALE_BILLING_SANDBOX = True
