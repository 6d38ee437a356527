"""The test project with the django-tasks-rq backend: what an ``rqworker`` process runs with.

Queues live in the Redis database of ``REDIS_URL``. Tests that enqueue for it apply
:data:`TASKS` and :data:`RQ_QUEUES` with ``override_settings``.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS as SUITE_APPS

INSTALLED_APPS = [*SUITE_APPS, "django_rq", "django_tasks_rq", "tests.projects.asyncapp"]
TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
RQ_QUEUES = {"default": {"URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}}
