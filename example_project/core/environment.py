"""Read the settings from the environment, so one settings module serves every deployment.

The settings modules read every variable through ``env``, an `environs`_ reader made as strict
as a deployment needs:

- a blank value counts as unset (values are stripped), so ``SECRET_KEY=`` cannot slip through;
- a flag is true or false (``1``/``0``, ``true``/``false``, ``yes``/``no``, ``on``/``off``); any
  other value is an error, not ``False``;
- an unset or invalid variable stops start-up with ``ImproperlyConfigured`` naming it.

``QUICKSCALE_ENV`` selects the mode: ``development`` (the default, so a fresh clone runs with no
set-up) or ``production``. Production has no fallbacks for secrets or host names: a setting read
with ``env.development_default(...)`` as its default is required there.

.. _environs: https://github.com/sloria/environs
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from environs import Env, EnvNotSetError, EnvValidationError

MODES = ("development", "production")
TRUE_VALUES = ("1", "true", "yes", "on")
FALSE_VALUES = ("0", "false", "no", "off")

T = TypeVar("T")


def _spellings(words: tuple[str, ...]) -> set[str]:
    """The words as written in lower case, capitalised or in upper case ("on", "On", "ON")."""
    return {spelling for word in words for spelling in (word, word.capitalize(), word.upper())}


def missing(name: str) -> ImproperlyConfigured:
    """The error for a variable that production cannot run without."""
    return ImproperlyConfigured(
        f"The {name} environment variable must be set when QUICKSCALE_ENV=production."
    )


def _strict(parse: Callable[..., T]) -> Callable[..., T]:
    """An environs parser whose errors are ``ImproperlyConfigured``, naming the variable."""

    @functools.wraps(parse)
    def read(env: Environment, name: str, *args: Any, **kwargs: Any) -> T:
        try:
            return parse(env, name, *args, **kwargs)
        except EnvNotSetError:
            raise missing(name) from None
        except EnvValidationError as error:
            reasons = " ".join(str(message) for message in error.error_messages)
            raise ImproperlyConfigured(f"{name} {reasons}") from None

    return read


class Environment(Env):
    """The environs reader of the example project's settings."""

    def _get_value(self, env_key: str, default: Any) -> Any:
        value = super()._get_value(env_key, default)
        if isinstance(value, str):
            return value.strip() or default
        return value

    str = _strict(Env.str)

    @_strict
    def int(self, name: str, default: Any = ..., **kwargs: Any) -> int:
        """An integer such as a port or a number of seconds."""
        kwargs.setdefault("error_messages", {"invalid": "must be an integer, not {input!r}."})
        return Env.int(self, name, default, **kwargs)

    @_strict
    def bool(self, name: str, default: Any = ..., **kwargs: Any) -> bool:
        """A flag: only the words of ``TRUE_VALUES`` and ``FALSE_VALUES`` are accepted."""
        return Env.bool(
            self,
            name,
            default,
            truthy=_spellings(TRUE_VALUES),
            falsy=_spellings(FALSE_VALUES),
            error_messages={
                "invalid": "must be true or false (1/0, yes/no, on/off), not {input!r}."
            },
            **kwargs,
        )

    def list(self, name: str, default: Any = ..., **kwargs: Any) -> list[str]:
        """A comma-separated list, e.g. ``ALLOWED_HOSTS=example.com,www.example.com``.

        Blank items are dropped; a list with none left counts as unset.
        """
        items = _strict(Env.list)(self, name, [], **kwargs)
        items = [item.strip() for item in items if item.strip()]
        if items:
            return items
        if default is ...:
            raise missing(name)
        return [*default]

    def production(self) -> bool:
        """Whether ``QUICKSCALE_ENV=production``; a misspelt mode is an error, never development."""
        mode = self.str("QUICKSCALE_ENV", "development").lower()
        if mode not in MODES:
            raise ImproperlyConfigured(
                f"QUICKSCALE_ENV must be 'development' or 'production', not {mode!r}."
            )
        return mode == "production"

    def development_default(self, default: T) -> Any:
        """``default`` in development; in production none, so the variable is required there."""
        return ... if self.production() else default


#: The reader every settings module uses.
env = Environment()
