"""Async twins of synchronous functions, made one way for every app.

:func:`to_async` gives a synchronous function an async twin named with Django's ``a`` prefix
(as ``QuerySet.aget`` is to ``get``). The twin is not a second implementation: it runs the
function in a thread through ``asgiref``'s ``sync_to_async(..., thread_sensitive=True)``, the way
Django runs the ORM for async code, so it takes the same arguments, returns the same result,
raises the same exceptions and has the same effect. The ledger's ``adebit``, ``abalance``... and
the services' ``aexecute`` are made with it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async

P = ParamSpec("P")
R = TypeVar("R")


def to_async(function: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The async twin of ``function``: a coroutine function named ``a<name>``, with the same
    signature, that runs ``function`` through ``sync_to_async(thread_sensitive=True)``.

    Thread-sensitive code runs in one thread per request under Django's ASGI handler (and in the
    calling thread under ``async_to_sync``), so the database connection it uses is the one the
    rest of the request's synchronous code uses. A ``progress`` callback or other callable
    argument is called in that thread, synchronously.
    """
    call = sync_to_async(function, thread_sensitive=True)

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await call(*args, **kwargs)

    run.__name__ = run.__qualname__ = f"a{function.__name__}"
    run.__doc__ = (
        f"Async :func:`{function.__name__}`: the same arguments, result, exceptions and effect; "
        f"``{function.__name__}`` runs in a thread through "
        f"``sync_to_async(thread_sensitive=True)``.\n\n{inspect.cleandoc(function.__doc__ or '')}"
    )
    return run


__all__ = ["to_async"]
