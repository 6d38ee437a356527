"""An app of the async test projects (``tests/projects/asgi_project.py`` and
``tests/projects/rq_worker.py``): ``async def`` views that charge through the async entry
points, and a background service that fails."""
