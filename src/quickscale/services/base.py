"""``BaseService``: subclass it in your app's ``services.py`` to sell a piece of work.

A subclass with a ``slug`` registers itself when its module is imported, and the app imports
every installed app's ``services.py`` at start-up, so a new paid service is one class::

    class WordCount(BaseService):
        slug = "word-count"
        name = "Word count"
        cost = Decimal("0.10")
        input_form = WordCountForm

        def run(self, ctx, data):
            return {"words": len(data["text"].split())}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django import forms

from quickscale.services.registry import registry

if TYPE_CHECKING:
    from quickscale.services.models import ServiceRun

Mode = Literal["held", "inline"]


@dataclass
class RunContext:
    """What a running service may know and do beyond its input."""

    user: Any
    run: ServiceRun
    #: The credits held (or debited, inline) for this run.
    cost: Decimal
    #: What will be charged; lower it with :meth:`charge` when the work turned out cheaper.
    charged: Decimal = field(init=False)

    def __post_init__(self) -> None:
        self.charged = self.cost

    def charge(self, amount: Decimal | int) -> None:
        """Charge ``amount`` instead of the full cost (held mode); the rest is released.

        Never more than the cost: a user pays at most the price they were shown (or the price
        staff set), whatever the work turned out to need.
        """
        from quickscale.credits.amounts import to_amount

        self.charged = min(to_amount(amount, field="charge", allow_zero=True), self.cost)


class BaseService:
    """A paid piece of work. Set the class attributes and implement :meth:`run`."""

    #: Unique, URL-safe identifier (lowercase letters, digits and hyphens).
    slug: ClassVar[str] = ""
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Fixed price in credits; override :meth:`get_cost` for a price that depends on the input.
    cost: ClassVar[Decimal | int] = Decimal(0)
    #: With a computed price, the least a run costs, for catalogs to say "from 1 credit"
    #: (``None``: they say the price depends on the input).
    price_from: ClassVar[Decimal | int | None] = None
    #: The input: a Django form gives validation, error messages and a web form for free.
    input_form: ClassVar[type[forms.Form] | None] = None
    #: ``"held"`` holds the cost, runs outside any transaction, then captures or releases.
    #: ``"inline"`` debits, runs and records in one transaction: for fast, fixed-cost work.
    mode: ClassVar[Mode] = "held"
    #: Run in the background through ``django.tasks`` (held mode only).
    run_async: ClassVar[bool] = False
    #: Seconds the work may take (``QUICKSCALE_SERVICES_DEFAULT_TIMEOUT`` when ``None``).
    timeout: ClassVar[int | None] = None
    #: Services without a slug (such as shared base classes) are not registered.
    abstract: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("abstract", False) or not cls.__dict__.get("slug"):
            return
        registry.register(cls)

    def is_available(self) -> bool:
        """False when the service cannot run here (say, an API key is not configured); it is
        then listed as unavailable and refuses to run, without charging."""
        return True

    def get_cost(self, data: dict[str, Any]) -> Decimal | int:
        """The price of running on ``data`` (validated input); the fixed ``cost`` by default."""
        return self.cost

    def fixed_cost(self) -> Decimal | None:
        """What every run costs, or ``None`` when :meth:`get_cost` computes it from the input."""
        if type(self).get_cost is not BaseService.get_cost:
            return None
        return Decimal(self.cost)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """Check the input beyond the form; raise ``django.forms.ValidationError`` to refuse
        it. Returns the (possibly normalised) data."""
        return data

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        """Do the work and return JSON-serialisable output. Raise to fail (nothing is charged)."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")

    def on_success(self, ctx: RunContext, output: Any) -> None:
        """Called after the run was charged and recorded."""

    def on_failure(self, ctx: RunContext, error: BaseException) -> None:
        """Called after a failed run was recorded and its credits given back."""
