"""Every public function and class of ``quickscale`` says what it is for.

Public means a name that does not start with ``_``, defined in the module that holds it (not
imported into it), and the public methods and properties of such classes. Left out, as they are
documented where they are declared:

- methods overriding a framework's (``get_queryset``, ``save``, ``clean``, ``handle``...);
- the hooks Django finds by name: a form's ``clean_<field>``, a view's ``get`` or ``post``, a
  middleware's ``process_view``, an ``AppConf``'s ``configure_*``, an admin's
  ``has_<action>_permission``, a subcommand's ``handle_<subcommand>`` (its parser's help says
  what it does);
- admin display and action callables (their description is their documentation);
- a management command's ``Command`` whose ``help`` says what it does;
- migrations.

A method overriding one of ours inherits its docstring.

One test per app, so each app can be held to it on its own.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django import forms
from django.core.management import BaseCommand
from django.views import View

import quickscale

APPS = ["core", "credits", "services", "apikeys", "billing", "audit", "api"]

#: Hooks Django (or django-appconf) calls by name, on any class.
HOOK_NAMES = frozenset(
    {
        "process_request",
        "process_view",
        "process_response",
        "process_exception",
        "process_template_response",
        "from_db_value",
        "configure",
    }
)
HOOK_PREFIXES = ("configure_",)


def modules_of(app: str) -> Iterator[ModuleType]:
    """The app's package and every module under it, migrations left out."""
    package = importlib.import_module(f"quickscale.{app}")
    yield package
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        if ".migrations" in info.name:
            continue
        yield importlib.import_module(info.name)


def source_docstrings(module: ModuleType) -> dict[str, str | None]:
    """The docstring of each class and function of the module's source, by qualified name.

    Classes are read from the source because Django models, dataclasses and named tuples are
    given a generated ``__doc__`` (their signature) when they have none.
    """
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return {}
    found: dict[str, str | None] = {}

    def visit(nodes: list[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{node.name}"
                found.setdefault(name, ast.get_docstring(node))
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{name}.")
            elif isinstance(node, ast.If):  # if TYPE_CHECKING / if task is not None
                visit(node.body, prefix)
                visit(node.orelse, prefix)
            elif isinstance(node, ast.Try):
                visit(node.body, prefix)
                for handler in node.handlers:
                    visit(handler.body, prefix)

    visit(ast.parse(Path(path).read_text(encoding="utf-8")).body, "")
    return found


def function_of(value: Any) -> Any:
    """The function behind a method, property or task, or ``None``."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    elif isinstance(value, cached_property):
        value = value.func
    elif not inspect.isfunction(value) and inspect.isfunction(getattr(value, "func", None)):
        value = value.func  # a django.tasks Task
    return value if inspect.isfunction(value) else None


def is_hook(cls: type, name: str, function: Any) -> bool:
    """Whether the method is one the framework calls, documented by the framework."""
    for base in cls.__mro__[1:]:
        if name in vars(base):
            # An override: of a framework's method, or of one of ours (which documents it).
            return not base.__module__.startswith("quickscale.") or bool(
                inspect.getdoc(getattr(base, name))
            )
    if name in HOOK_NAMES or name.startswith(HOOK_PREFIXES):
        return True
    if name.startswith("has_") and name.endswith("_permission"):
        return True  # an admin permission, or the one an admin action's allowed_permissions names
    if issubclass(cls, forms.BaseForm) and name.startswith("clean_"):
        return True
    if issubclass(cls, BaseCommand) and name.startswith("handle_"):
        return True  # a subcommand's handle(), described by its parser's help
    if issubclass(cls, View) and name in View.http_method_names:
        return True
    # @admin.display and @admin.action callables.
    return hasattr(function, "short_description")


def undocumented(module: ModuleType) -> Iterator[str]:
    """The public functions, classes and methods of the module that have no docstring."""
    docstrings = source_docstrings(module)
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if inspect.isclass(value):
            if value.__module__ != module.__name__ or value.__qualname__ != name:
                continue
            doc = docstrings.get(name, value.__dict__.get("__doc__"))
            if not doc and not (name == "Command" and getattr(value, "help", "")):
                yield f"{module.__name__}.{name}"
            yield from undocumented_methods(module, value, docstrings)
            continue
        function = function_of(value)
        if function is None or function.__module__ != module.__name__:
            continue
        if not inspect.getdoc(function):
            yield f"{module.__name__}.{name}"


def undocumented_methods(
    module: ModuleType, cls: type, docstrings: dict[str, str | None]
) -> Iterator[str]:
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        function = function_of(value)
        if function is None or function.__module__ != module.__name__:
            continue
        if is_hook(cls, name, function):
            continue
        if not (function.__doc__ or docstrings.get(f"{cls.__name__}.{name}")):
            yield f"{module.__name__}.{cls.__name__}.{name}"


def test_every_app_is_checked() -> None:
    packages = {info.name for info in pkgutil.iter_modules(quickscale.__path__) if info.ispkg}
    assert packages == set(APPS)


@pytest.mark.parametrize("app", APPS)
def test_public_functions_and_classes_have_docstrings(app: str) -> None:
    missing = [name for module in modules_of(app) for name in undocumented(module)]
    if missing:
        pytest.fail(f"{len(missing)} without a docstring:\n" + "\n".join(missing), pytrace=False)
