"""The test project with the django-tasks-db backend: what a ``db_worker`` process runs with.

Tests that enqueue for it apply :data:`TASKS` with ``override_settings``.
"""

from tests.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
