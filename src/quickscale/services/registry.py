"""The registry of service classes, filled as ``services.py`` modules are imported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext

from quickscale.services.exceptions import ServiceNotFound

if TYPE_CHECKING:
    from quickscale.services.base import BaseService


class ServiceRegistry:
    """The registered service classes, by slug."""

    def __init__(self) -> None:
        self._services: dict[str, type[BaseService]] = {}
        #: Classes that claimed a slug already taken; reported by a system check.
        self.duplicates: list[tuple[str, type[BaseService], type[BaseService]]] = []

    def register(self, service: type[BaseService]) -> None:
        """Add a service class under its slug; one claiming a slug another class holds is noted in
        :attr:`duplicates` instead. The same class registered again (a re-imported module)
        replaces the old one."""
        existing = self._services.get(service.slug)
        if existing is not None and _path(existing) != _path(service):
            self.duplicates.append((service.slug, existing, service))
            return
        # Re-importing a module (autoreload, tests) replaces the class with its new version.
        self._services[service.slug] = service

    def unregister(self, slug: str) -> None:
        """Remove the service registered as ``slug``, if there is one."""
        self._services.pop(slug, None)

    def get(self, slug: str) -> type[BaseService]:
        """The class registered as ``slug``; raises ``ServiceNotFound`` when there is none."""
        try:
            return self._services[slug]
        except KeyError:
            raise ServiceNotFound(
                gettext("There is no service %(slug)r.") % {"slug": slug}, details={"service": slug}
            ) from None

    def all(self) -> list[type[BaseService]]:
        """Every registered class, in the order of their slugs."""
        return [self._services[slug] for slug in sorted(self._services)]


registry = ServiceRegistry()


def autodiscover() -> None:
    """Import ``services.py`` of every installed app, registering the services it defines."""
    autodiscover_modules("services")


def _path(service: type[BaseService]) -> str:
    return f"{service.__module__}.{service.__qualname__}"
