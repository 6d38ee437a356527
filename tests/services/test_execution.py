"""Running services: charging per mode, failures that cost nothing, idempotency, the catalog."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from django.utils import translation

from quickscale.credits import ledger
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.credits.models import CreditHold, CreditTransaction, HoldState
from quickscale.services.exceptions import InvalidInput, ServiceDisabled, ServiceNotFound
from quickscale.services.execution import execute, sync_catalog, usage
from quickscale.services.models import Service, ServiceRun


@pytest.fixture
def funded(user: Any) -> Any:
    ledger.grant(user, 20, source="purchase")
    return user


def available(user: Any) -> D:
    return ledger.balance(user).available


def test_a_held_service_is_charged_its_cost_on_success(funded: Any) -> None:
    run = execute(funded, "echo", {"text": "hello"})

    assert run.status == "succeeded"
    assert run.output == {"text": "hello"}
    assert run.cost == D(2) and run.mode == "held"
    assert run.charge is not None and run.charge.kind == "capture"
    assert available(funded) == 18
    assert CreditHold.objects.get().state == HoldState.CAPTURED
    assert ledger.verify(funded) == []


def test_an_inline_service_debits_runs_and_records_in_one_go(funded: Any) -> None:
    run = execute(funded, "word-count", {"text": "one two three"})

    assert run.status == "succeeded"
    assert run.output == {"words": 3}
    assert run.charge is not None and run.charge.kind == "debit"
    assert available(funded) == 19
    assert not CreditHold.objects.exists()


@pytest.mark.parametrize("slug", ["explodes", "explodes-inline", "unserialisable"])
def test_a_failing_service_costs_nothing_and_is_recorded_as_failed(funded: Any, slug: str) -> None:
    run = execute(funded, slug, {})

    assert run.status == "failed"
    assert run.cost == 0
    assert run.error
    assert ledger.balance(funded) == ledger.Balance(D(20), D(0), D(20))
    assert ledger.verify(funded) == []


def test_the_failure_message_names_the_error(funded: Any) -> None:
    run = execute(funded, "explodes", {})

    assert run.error == "RuntimeError: the model server is down"
    assert CreditHold.objects.get().state == HoldState.RELEASED


def test_a_failed_inline_run_leaves_no_debit(funded: Any) -> None:
    execute(funded, "explodes-inline", {})

    assert not CreditTransaction.objects.filter(kind="debit").exists()
    assert ServiceRun.objects.get().status == "failed"


def test_a_timed_out_service_costs_nothing_and_is_recorded_as_failed(funded: Any) -> None:
    run = execute(funded, "sleeper", {"seconds": 3})

    assert run.status == "failed"
    assert run.error == "The service did not finish within 1 second."
    assert ledger.balance(funded) == ledger.Balance(D(20), D(0), D(20))


def test_a_dynamic_cost_holds_what_get_cost_returns_and_captures_what_run_charged(
    funded: Any,
) -> None:
    run = execute(funded, "per-word", {"text": "a few words cost more"})

    assert run.reserved == D("2.5")
    assert run.cost == D("1.5")  # "words", "cost", "more"
    assert available(funded) == D("18.5")
    hold = CreditHold.objects.get()
    assert hold.amount == D("2.5") and hold.captured == D("1.5")
    assert ledger.verify(funded) == []


def test_a_run_without_enough_credits_is_refused_and_not_recorded(user: Any) -> None:
    ledger.grant(user, 1, source="purchase")

    with pytest.raises(InsufficientCredits):
        execute(user, "echo", {"text": "hi"})

    assert not ServiceRun.objects.exists()
    assert available(user) == 1


def test_invalid_input_names_the_field_and_charges_nothing(funded: Any) -> None:
    with pytest.raises(InvalidInput) as raised:
        execute(funded, "echo", {"text": ""})

    assert raised.value.code == "invalid_input"
    assert list(raised.value.details) == ["text"]
    assert not ServiceRun.objects.exists()
    assert available(funded) == 20


@pytest.mark.parametrize("data", [None, [], "text", 5])
def test_input_that_is_not_an_object_is_invalid(funded: Any, data: Any) -> None:
    with pytest.raises(InvalidInput):
        execute(funded, "echo", data)


def test_an_unknown_service_is_not_found(funded: Any) -> None:
    with pytest.raises(ServiceNotFound) as raised:
        execute(funded, "nope", {})
    assert raised.value.status == 404


def test_a_disabled_service_refuses_to_run(funded: Any) -> None:
    sync_catalog()
    Service.objects.filter(slug="echo").update(enabled=False)

    with pytest.raises(ServiceDisabled):
        execute(funded, "echo", {"text": "hi"})
    assert available(funded) == 20


def test_an_unavailable_service_refuses_without_charging(funded: Any) -> None:
    with pytest.raises(ServiceDisabled) as raised:
        execute(funded, "needs-key", {})
    assert "not configured" in raised.value.message
    assert available(funded) == 20


def test_a_staff_price_override_is_what_is_charged(funded: Any) -> None:
    sync_catalog()
    Service.objects.filter(slug="echo").update(price_override=D("5.50"))

    run = execute(funded, "echo", {"text": "hi"})

    assert run.cost == D("5.50")
    assert available(funded) == D("14.50")


def test_a_free_service_runs_without_touching_credits(user: Any) -> None:
    run = execute(user, "free", {})

    assert run.status == "succeeded" and run.cost == 0
    assert not CreditTransaction.objects.exists()


@pytest.mark.parametrize("slug", ["echo", "word-count"])
def test_replaying_a_run_with_its_key_returns_the_first_run_and_charges_once(
    funded: Any, slug: str
) -> None:
    first = execute(funded, slug, {"text": "hi there"}, idempotency_key="req-1")
    again = execute(funded, slug, {"text": "hi there"}, idempotency_key="req-1")

    assert again.pk == first.pk
    assert ServiceRun.objects.count() == 1
    assert available(funded) == 20 - first.cost


def test_replaying_a_failed_run_returns_it_without_running_again(funded: Any) -> None:
    first = execute(funded, "explodes-inline", {}, idempotency_key="req-2")

    assert execute(funded, "explodes-inline", {}, idempotency_key="req-2").pk == first.pk
    assert ServiceRun.objects.count() == 1


def test_a_key_reused_with_other_input_is_a_conflict(funded: Any) -> None:
    execute(funded, "echo", {"text": "hi"}, idempotency_key="req-3")

    with pytest.raises(IdempotencyConflict):
        execute(funded, "echo", {"text": "bye"}, idempotency_key="req-3")
    with pytest.raises(IdempotencyConflict):
        execute(funded, "word-count", {"text": "hi"}, idempotency_key="req-3")
    assert available(funded) == 18


def test_keys_belong_to_their_user(make_user: Any) -> None:
    alice, bob = make_user(), make_user()
    for person in (alice, bob):
        ledger.grant(person, 5, source="purchase")

    first = execute(alice, "echo", {"text": "hi"}, idempotency_key="same")
    second = execute(bob, "echo", {"text": "hi"}, idempotency_key="same")

    assert first.pk != second.pk and first.user != second.user


def test_a_new_service_class_appears_in_the_catalog_and_in_usage(funded: Any) -> None:
    catalog = {service.slug for service in sync_catalog()}
    assert {"echo", "word-count", "per-word"} <= catalog

    execute(funded, "echo", {"text": "hi"})
    execute(funded, "echo", {"text": "again"})
    execute(funded, "explodes", {})

    rows = {row["service"]: row for row in usage(funded)}
    assert rows["echo"]["runs"] == 2 and rows["echo"]["succeeded"] == 2
    assert rows["echo"]["credits"] == D(4)
    assert rows["explodes"]["runs"] == 1 and rows["explodes"]["credits"] == 0


def test_sync_keeps_staff_choices_and_flags_vanished_services(user: Any) -> None:
    sync_catalog()
    Service.objects.filter(slug="echo").update(enabled=False, price_override=D(1))
    Service.objects.create(slug="retired", name="Retired")

    sync_catalog()

    echo = Service.objects.get(slug="echo")
    assert (echo.enabled, echo.price_override, echo.registered) == (False, D(1), True)
    assert Service.objects.get(slug="retired").registered is False


def test_success_and_failure_hooks_run_after_recording(funded: Any, settings: Any) -> None:
    from tests.hostapp import services

    seen: list[tuple[str, str]] = []

    class Hooked(services.Echo):
        slug = "hooked"

        def on_success(self, ctx: Any, output: Any) -> None:
            seen.append(("success", ctx.run.status))

    class HookedFailure(services.Explodes):
        slug = "hooked-failure"

        def on_failure(self, ctx: Any, error: BaseException) -> None:
            seen.append(("failure", ctx.run.status))

    from quickscale.services.registry import registry

    try:
        execute(funded, "hooked", {"text": "x"})
        execute(funded, "hooked-failure", {})
    finally:
        registry.unregister("hooked")
        registry.unregister("hooked-failure")

    assert seen == [("success", "succeeded"), ("failure", "failed")]


def test_a_replay_returns_the_first_run_even_after_the_service_was_disabled(funded: Any) -> None:
    first = execute(funded, "echo", {"text": "hi"}, idempotency_key="req-9")
    Service.objects.filter(slug="echo").update(enabled=False)

    assert execute(funded, "echo", {"text": "hi"}, idempotency_key="req-9").pk == first.pk


def test_an_inline_run_that_charges_less_is_debited_only_what_it_charged(funded: Any) -> None:
    run = execute(funded, "inline-discount", {})

    assert run.cost == D(1)
    assert available(funded) == 19
    # Charged after it ran: one debit of what it said, nothing to give back.
    debit = CreditTransaction.objects.get(kind="debit")
    assert debit.amount == D(-1)
    assert run.charge_id == debit.pk
    assert not CreditTransaction.objects.filter(kind="refund").exists()
    assert ledger.verify(funded) == []


@pytest.mark.django_db(transaction=True)
def test_a_run_that_outlived_its_hold_is_failed_and_charges_nothing(funded: Any) -> None:
    run = execute(funded, "loses-its-hold", {})

    assert run.status == "failed"
    assert "outlived its hold" in run.error
    assert available(funded) == 20
    assert ledger.verify(funded) == []


def test_input_that_is_not_json_data_is_invalid(funded: Any) -> None:
    with pytest.raises(InvalidInput):
        execute(funded, "echo", {"text": object()})
    with pytest.raises(InvalidInput):
        execute(funded, "echo", {"text": float("nan")})


def test_an_async_run_accepts_python_values_that_json_cannot_hold(
    funded: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run = execute(funded, "async-sleeper", {"seconds": D("0")})

    run.refresh_from_db()
    assert run.status == "succeeded"
    assert run.output == {"slept": 0.0}


def test_a_queued_run_whose_hold_would_run_out_mid_run_does_not_start(
    funded: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from quickscale.services.execution import perform_queued

    with django_capture_on_commit_callbacks(execute=False):
        run = execute(funded, "async-sleeper", {"seconds": 0})
    CreditHold.objects.filter(pk=run.hold_id).update(
        expires_at=timezone.now() + timedelta(seconds=5)  # the timeout is 30 s
    )

    finished = perform_queued(run.pk, {"seconds": 0})

    assert finished is not None and finished.status == "failed"
    assert "waited too long" in finished.error
    assert ledger.balance(funded) == ledger.Balance(D(20), D(0), D(20))


@pytest.mark.parametrize("mode_slug", ["mirror"])
def test_output_the_database_cannot_store_fails_the_run_and_costs_nothing(
    funded: Any, mode_slug: str
) -> None:
    run = execute(funded, mode_slug, {"text": "a\x00b"})

    assert run.status == "failed"
    assert "NUL" in run.error
    assert available(funded) == 20
    assert ledger.verify(funded) == []


def test_an_idempotency_key_with_a_nul_is_refused(funded: Any) -> None:
    from quickscale.credits.exceptions import InvalidArgument

    with pytest.raises(InvalidArgument):
        execute(funded, "echo", {"text": "x"}, idempotency_key="a\x00b")
    assert not ServiceRun.objects.exists()


def test_a_run_that_fails_in_a_german_request_keeps_its_error_in_the_site_language(
    funded: Any,
) -> None:
    with translation.override("de"):
        run = execute(funded, "sleeper", {"seconds": 3})

    assert run.error == "The service did not finish within 1 second."


def test_a_refused_debit_reads_in_the_language_of_whoever_reads_it(funded: Any) -> None:
    with translation.override("de"), pytest.raises(InsufficientCredits) as refused:
        ledger.debit(funded, 25, reason="too much")

    with translation.override("de"):
        assert refused.value.message == (
            "25.00 Credits werden benötigt, aber nur 20.00 sind verfügbar."
        )
    assert refused.value.message == "25.00 credits are needed but only 20.00 are available."
