"""A ``run_async`` service whose run fails in the worker: nothing may be charged for it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quickscale.services.base import BaseService, RunContext


class AsyncExplodes(BaseService):
    slug = "async-explodes"
    name = "Async explodes"
    cost = Decimal("2.00")
    run_async = True
    timeout = 30

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        raise RuntimeError("the model server is down")
