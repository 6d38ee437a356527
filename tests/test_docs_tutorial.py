"""docs/tutorial-service.md runs as written and prints what it promises."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quickscale.credits import ledger
from quickscale.services.registry import registry

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial-service.md"
BLOCK = re.compile(r"^```(python|text)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(TUTORIAL.read_text()) if lang == language]


@pytest.fixture
def _forget_the_service() -> Iterator[None]:
    yield
    registry.unregister("summary")


@pytest.mark.usefixtures("db", "_forget_the_service")
def test_the_tutorial_runs_and_prints_what_it_promises() -> None:
    namespace: dict[str, Any] = {"__name__": "yourapp.services"}
    printed = io.StringIO()

    with contextlib.redirect_stdout(printed):
        for code in blocks("python"):
            exec(compile(code, str(TUTORIAL), "exec"), namespace)

    assert printed.getvalue() == "".join(blocks("text"))
    run, user = namespace["run"], namespace["user"]
    assert run.status == "succeeded"
    assert run.output == {"summary": "Credits are prepaid. Services spend them."}
    assert run.cost == Decimal(2)
    assert run.charge.kind == "capture"
    assert run.charge.amount == Decimal(-2)
    assert ledger.balance(user).available == Decimal(8)
    assert ledger.verify(user) == []


def test_the_tutorial_has_the_blocks_it_runs() -> None:
    assert "class Summary(BaseService):" in blocks("python")[0]
    assert "summarise(" in blocks("python")[0]
    assert (len(blocks("python")), len(blocks("text"))) == (4, 3)
