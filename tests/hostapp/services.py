"""Services a host app defines: each is just a class, discovered at start-up."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from django import forms

from quickscale.services.base import BaseService, RunContext


class TextForm(forms.Form):
    text = forms.CharField(max_length=10_000)


class Echo(BaseService):
    slug = "echo"
    name = "Echo"
    description = "Returns its input."
    cost = Decimal("2.00")
    input_form = TextForm

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return {"text": data["text"]}


class WordCount(BaseService):
    slug = "word-count"
    name = "Word count"
    cost = Decimal("1.00")
    mode = "inline"
    input_form = TextForm

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return {"words": len(data["text"].split())}


class PerWord(BaseService):
    """Priced by the input: half a credit a word, and only words longer than three letters
    are actually charged."""

    slug = "per-word"
    name = "Per word"
    input_form = TextForm

    def get_cost(self, data: dict[str, Any]) -> Decimal:
        return Decimal("0.5") * len(data["text"].split())

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        long_words = [w for w in data["text"].split() if len(w) > 3]
        ctx.charge(Decimal("0.5") * len(long_words))
        return {"charged_words": len(long_words)}


class Explodes(BaseService):
    slug = "explodes"
    name = "Explodes"
    cost = Decimal("3.00")

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        raise RuntimeError("the model server is down")


class ExplodesInline(BaseService):
    slug = "explodes-inline"
    name = "Explodes inline"
    cost = Decimal("3.00")
    mode = "inline"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        raise RuntimeError("bad luck")


class Unserialisable(BaseService):
    slug = "unserialisable"
    name = "Unserialisable"
    cost = Decimal("1.00")

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return {"value": object()}


class Sleeper(BaseService):
    slug = "sleeper"
    name = "Sleeper"
    cost = Decimal("1.00")
    timeout = 1

    class Input(forms.Form):
        seconds = forms.FloatField(min_value=0, max_value=30)

    input_form = Input

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        time.sleep(data["seconds"])
        return {"slept": data["seconds"]}


class AsyncSleeper(BaseService):
    slug = "async-sleeper"
    name = "Async sleeper"
    cost = Decimal("1.00")
    run_async = True
    timeout = 30
    input_form = Sleeper.Input

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        time.sleep(data["seconds"])
        return {"slept": data["seconds"]}


class Free(BaseService):
    slug = "free"
    name = "Free"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return {"ok": True}


class NeedsKey(BaseService):
    slug = "needs-key"
    name = "Needs a key"
    cost = Decimal("1.00")

    def is_available(self) -> bool:
        return False

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return {}


class InlineDiscount(BaseService):
    """Inline, priced at 3 but charging 1 when the work turned out small."""

    slug = "inline-discount"
    name = "Inline discount"
    cost = Decimal("3.00")
    mode = "inline"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        ctx.charge(Decimal("1.00"))
        return {"ok": True}


class LosesItsHold(BaseService):
    """Finishes after its hold was released (as the sweep does when a run outlives it)."""

    slug = "loses-its-hold"
    name = "Loses its hold"
    cost = Decimal("2.00")

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        from quickscale.credits import ledger

        assert ctx.run.hold is not None
        ledger.release(ctx.run.hold, reason="swept")
        return {"ok": True}


class Mirror(BaseService):
    """Returns whatever it was given (no form): its output is only as clean as its input."""

    slug = "mirror"
    name = "Mirror"
    cost = Decimal("1.00")

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return data
