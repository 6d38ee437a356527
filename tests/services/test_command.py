"""``manage.py services``: the catalog and runs for operators, through the real command parser."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from quickscale.credits import ledger
from quickscale.services.models import Service, ServiceRun


def services(*args: str) -> str:
    """Run ``manage.py services <args>`` and return what it wrote to stdout."""
    out = io.StringIO()
    call_command("services", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def table(output: str) -> dict[str, list[str]]:
    """The rows of ``services list``, by slug: the cells split on runs of two spaces."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in output.splitlines()]
    return {row[0]: row[1:] for row in rows[1:]}


def output_of(out: str) -> Any:
    """The JSON a successful ``services run`` printed after ``Output:``."""
    text = out.split("Output:\n", 1)[1]
    return json.JSONDecoder().raw_decode(text)[0]


@pytest.fixture
def funded(user: Any) -> Any:
    ledger.grant(user, 20, source="purchase")
    return user


def available(user: Any) -> D:
    return ledger.balance(user).available


# -- list -------------------------------------------------------------------------------


def test_list_shows_each_service_with_its_price_mode_and_state(db: None) -> None:
    rows = table(services("list"))

    assert rows["echo"] == ["Echo", "2.00", "held", "yes", "yes"]
    assert rows["word-count"] == ["Word count", "1.00", "inline", "yes", "yes"]
    assert rows["async-sleeper"][2] == "held, async"


def test_list_says_a_price_computed_from_the_input_is_computed(db: None) -> None:
    assert table(services("list"))["per-word"][1] == "computed"


def test_list_shows_a_service_that_is_not_configured_as_unavailable(db: None) -> None:
    assert table(services("list"))["needs-key"][3:] == ["yes", "no"]


def test_list_shows_the_staff_price_and_switch(db: None) -> None:
    Service.objects.filter(slug="echo").update(enabled=False, price_override=D("0.25"))

    assert table(services("list"))["echo"] == ["Echo", "0.25", "held", "no", "yes"]


def test_list_shows_a_catalog_row_whose_code_is_gone(db: None) -> None:
    Service.objects.create(slug="retired", name="Retired", registered=False)

    assert table(services("list"))["retired"] == ["Retired", "-", "-", "yes", "no (not registered)"]


def test_list_starts_with_a_header(db: None) -> None:
    header = services("list").splitlines()[0].split()

    assert header == ["SLUG", "NAME", "PRICE", "MODE", "ENABLED", "AVAILABLE"]


# -- sync -------------------------------------------------------------------------------


def test_sync_adds_missing_services_and_reports_the_counts(db: None) -> None:
    Service.objects.filter(slug__in=["echo", "free"]).delete()
    Service.objects.filter(slug="word-count").update(name="Old name")
    Service.objects.create(slug="retired", name="Retired")

    out = services("sync")

    assert "2 added, 1 updated, 1 no longer registered" in out
    assert Service.objects.filter(slug__in=["echo", "free"]).count() == 2
    assert Service.objects.get(slug="word-count").name == "Word count"
    assert not Service.objects.get(slug="retired").registered


def test_sync_twice_changes_nothing_the_second_time(db: None) -> None:
    services("sync")

    out = services("sync")

    assert "0 added, 0 updated, 0 no longer registered" in out


def test_sync_keeps_the_staff_choices(db: None) -> None:
    Service.objects.filter(slug="echo").update(enabled=False, price_override=D("5"))

    services("sync")

    entry = Service.objects.get(slug="echo")
    assert (entry.enabled, entry.price_override) == (False, D("5"))


# -- run --------------------------------------------------------------------------------


def test_run_charges_the_user_and_prints_the_result_and_balance(funded: Any) -> None:
    out = services("run", funded.email, "echo", "--input", '{"text": "hello"}')

    run = ServiceRun.objects.get()
    assert (run.status, run.cost) == ("succeeded", D("2.00"))
    assert available(funded) == D("18.00")
    assert f"Run {run.pk} of echo: succeeded" in out
    assert "cost:         2.00" in out
    assert output_of(out) == {"text": "hello"}
    assert re.search(r"available:\s+18\.00", out)


def test_run_an_inline_service(funded: Any) -> None:
    out = services("run", funded.email, "word-count", "--input", '{"text": "one two three"}')

    assert output_of(out) == {"words": 3}
    assert available(funded) == D("19.00")


def test_run_finds_the_user_by_id_or_username(make_user: Callable[..., Any]) -> None:
    alice = make_user(username="alice")
    ledger.grant(alice, 10, source="purchase")

    services("run", str(alice.pk), "word-count", "--input", '{"text": "a"}')
    services("run", "alice", "word-count", "--input", '{"text": "a"}')

    assert ServiceRun.objects.filter(user=alice).count() == 2


def test_run_without_input_sends_an_empty_object(funded: Any) -> None:
    out = services("run", funded.email, "free")

    assert output_of(out) == {"ok": True}


def test_run_again_with_its_idempotency_key_shows_the_first_run_and_charges_once(
    funded: Any,
) -> None:
    args = ("run", funded.email, "echo", "--input", '{"text": "hi"}', "--idempotency-key", "k1")
    services(*args)

    out = services(*args)

    assert "Already run with this idempotency key" in out
    assert ServiceRun.objects.count() == 1
    assert available(funded) == D("18.00")


def test_run_with_a_used_idempotency_key_and_other_input_fails(funded: Any) -> None:
    services("run", funded.email, "echo", "--input", '{"text": "a"}', "--idempotency-key", "k")

    with pytest.raises(CommandError, match="already used for a different request"):
        services("run", funded.email, "echo", "--input", '{"text": "b"}', "--idempotency-key", "k")


def test_a_failed_run_exits_with_its_error_and_charges_nothing(funded: Any) -> None:
    with pytest.raises(CommandError, match=r"failed: RuntimeError: the model server is down"):
        services("run", funded.email, "explodes")

    assert ServiceRun.objects.get().status == "failed"
    assert available(funded) == D("20.00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody@example.com", "echo"), "No user has the id, email or username"),
        (("{user}", "no-such-service"), "There is no service 'no-such-service'"),
        (("{user}", "echo", "--input", "{text"), "--input is not valid JSON"),
        (("{user}", "echo", "--input", '["hello"]'), "--input must be a JSON object, not list"),
        (("{user}", "echo", "--input", "{}"), "The input is invalid. text: This field is"),
        (("{user}", "needs-key"), "'needs-key' is not configured"),
    ],
    ids=["unknown-user", "unknown-service", "bad-json", "not-an-object", "invalid", "no-key"],
)
def test_run_refuses_a_run_that_cannot_start_and_records_nothing(
    funded: Any, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        services("run", *(funded.email if arg == "{user}" else arg for arg in args))

    assert not ServiceRun.objects.exists()
    assert available(funded) == D("20.00")


def test_run_of_a_disabled_service_is_refused(funded: Any) -> None:
    Service.objects.filter(slug="echo").update(enabled=False)

    with pytest.raises(CommandError, match="The service 'echo' is disabled"):
        services("run", funded.email, "echo", "--input", '{"text": "hi"}')


def test_run_without_enough_credits_is_refused(user: Any) -> None:
    ledger.grant(user, 1, source="purchase")

    with pytest.raises(CommandError, match=re.escape("2.00 credits are needed but only 1.00")):
        services("run", user.email, "echo", "--input", '{"text": "hi"}')

    assert not ServiceRun.objects.exists()
