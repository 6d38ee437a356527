"""The service the API benchmark runs: the cheapest paid run there is."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quickscale.services.base import BaseService, RunContext


class BenchNoop(BaseService):
    """Fixed cost, no input, inline (debit, run and record in one transaction), no work."""

    slug = "bench-noop"
    name = "Benchmark no-op"
    description = "Costs 1 credit and does nothing: what the API adds around a paid run."
    cost = Decimal(1)
    mode = "inline"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return {"ok": True}
