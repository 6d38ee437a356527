"""A ``django.tasks`` backend whose store cannot be reached: every enqueue is refused, as a
backend's is when its database or broker is down. (Task backends are pluggable, so this is the
boundary where a fault is injected; the rest of each test is real.)"""

from __future__ import annotations

from typing import Any

from django_tasks.backends.dummy import DummyBackend
from django_tasks.backends.immediate import ImmediateBackend

UNREACHABLE = {"default": {"BACKEND": "tests.hostapp.tasks.UnreachableBackend"}}
#: Took the task (and ran it) but lost its answer, as a broker whose reply times out.
ANSWER_LOST = {"default": {"BACKEND": "tests.hostapp.tasks.AnswerLostBackend"}}


class UnreachableBackend(DummyBackend):
    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused: the task store is down")


class AnswerLostBackend(ImmediateBackend):
    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        super().enqueue(task, args, kwargs)
        raise TimeoutError("The broker's answer timed out")
