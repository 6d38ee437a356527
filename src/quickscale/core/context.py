"""Who is acting, from where, within which request: the context a change is attributed to.

The context lives in a :class:`contextvars.ContextVar`, so it follows the code that runs for a
request (threads and ``async`` alike) without being passed around. ``RequestContextMiddleware``
sets it for each request; management commands built on
:class:`quickscale.core.commands.SubcommandCommand` run with a ``system`` actor; anything else
(a task, a script) opens one with :func:`context`::

    with context(actor=Actor.system("nightly import"), request_id=new_request_id()):
        ...

The actor of a request is resolved only when something asks for it (the audit log, when it
records an event), so a request that records nothing never loads its user.
"""

from __future__ import annotations

import getpass
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

__all__ = [
    "Actor",
    "Context",
    "bind",
    "context",
    "current",
    "new_request_id",
    "request_context",
    "reset",
]

USER = "user"
API_KEY = "api_key"
SYSTEM = "system"
#: A request id from the edge is accepted only when it looks like one.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:/+=-]{1,64}")
#: Longest user agent kept; longer ones are cut.
USER_AGENT_LENGTH = 255


@dataclass(frozen=True)
class Actor:
    """Who acted: a user (``type="user"``), a user through one of their API keys
    (``"api_key"``: ``id`` is the owner's, ``api_key_id`` the key's public id) or the system
    itself (``"system"``: ``label`` names the command or task, ``id`` the operating-system
    account that ran it, when known)."""

    type: str
    id: str = ""
    label: str = ""
    api_key_id: str = ""

    @classmethod
    def of_user(cls, user: Any) -> Actor | None:
        """The actor for a user instance; ``None`` for an anonymous user or ``None``."""
        if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
            return None
        return cls(USER, str(user.pk), _text(str(user)))

    @classmethod
    def of_api_key(cls, key: Any) -> Actor:
        """The actor for a request authenticated by ``key`` (an ``APIKey``): its owner."""
        owner = key.owner
        return cls(API_KEY, str(key.owner_id), _text(str(owner)), str(key.key_id))

    @classmethod
    def system(cls, label: str) -> Actor:
        """The system acting as ``label`` (the command or task), run by the current
        operating-system account when it has a name."""
        return cls(SYSTEM, _os_account(), _text(label))


ActorSource = Actor | Callable[[], "Actor | None"] | None


@dataclass(frozen=True)
class Context:
    """The current request id, client address, user agent and actor."""

    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""
    #: An :class:`Actor`, or a callable that returns one when it is first needed.
    actor_source: ActorSource = field(default=None, repr=False)

    @property
    def actor(self) -> Actor | None:
        """The :class:`Actor`, got from :attr:`actor_source` when that is a callable; ``None``
        when nobody is known."""
        source = self.actor_source
        if source is None or isinstance(source, Actor):
            return source
        return source()


EMPTY = Context()
_current: ContextVar[Context] = ContextVar("quickscale_context", default=EMPTY)


def current() -> Context:
    """The context of the code running now (empty outside any request, command or block)."""
    return _current.get()


def bind(value: Context) -> Token[Context]:
    """Make ``value`` the current context until :func:`reset` is called with the token."""
    return _current.set(value)


def reset(token: Token[Context]) -> None:
    """Make current again the context :func:`bind` replaced when it returned ``token``."""
    _current.reset(token)


_UNSET: Any = object()


@contextmanager
def context(
    *,
    actor: Any = _UNSET,
    request_id: str = _UNSET,
    ip: str | None = _UNSET,
    user_agent: str = _UNSET,
) -> Iterator[Context]:
    """Run a block (or, as a decorator, a function) with some fields of the context replaced.

    ``actor`` is an :class:`Actor`, a user instance, or ``None`` for nobody. Fields left out keep
    their current value, so a block inside a request keeps its request id.
    """
    changes: dict[str, Any] = {}
    if actor is not _UNSET:
        changes["actor_source"] = actor if isinstance(actor, Actor) else Actor.of_user(actor)
    if request_id is not _UNSET:
        changes["request_id"] = request_id
    if ip is not _UNSET:
        changes["ip"] = ip
    if user_agent is not _UNSET:
        changes["user_agent"] = _text(user_agent, USER_AGENT_LENGTH)
    value = replace(current(), **changes)
    token = bind(value)
    try:
        yield value
    finally:
        reset(token)


def new_request_id() -> str:
    """A fresh request id: 32 random hexadecimal digits."""
    return uuid.uuid4().hex


def request_context(request: Any) -> Context:
    """The context of an HTTP request: its request id (from
    ``QUICKSCALE_CORE_REQUEST_ID_HEADER`` when well formed, else a new one), the client address
    (through ``QUICKSCALE_CORE_TRUSTED_PROXIES`` only), its user agent and its actor."""
    from quickscale.core.http import client_ip

    header = "HTTP_" + settings.QUICKSCALE_CORE_REQUEST_ID_HEADER.upper().replace("-", "_")
    given = request.META.get(header, "")
    request_id = given if REQUEST_ID_RE.fullmatch(given) else new_request_id()
    return Context(
        request_id=request_id,
        ip=client_ip(request),
        user_agent=_text(request.META.get("HTTP_USER_AGENT", ""), USER_AGENT_LENGTH),
        actor_source=lambda: request_actor(request),
    )


def request_actor(request: Any) -> Actor | None:
    """The key's owner for a request authenticated by an API key (``request.auth``), else the
    signed-in user, else ``None``. Read when needed: the key middleware may run later."""
    key = getattr(request, "auth", None)
    if key is not None and hasattr(key, "key_id") and hasattr(key, "owner_id"):
        return Actor.of_api_key(key)
    return Actor.of_user(getattr(request, "user", None))


def _text(value: str, length: int = 255) -> str:
    return value[:length]


def _os_account() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no such account, or no name for it (containers)
        return ""
