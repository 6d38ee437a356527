"""The service catalog and run history in the Django admin."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quickscale.credits import ledger
from quickscale.services.exceptions import ServiceDisabled
from quickscale.services.execution import execute
from quickscale.services.models import Service, ServiceRun


def url(model: str, view: str, *args: Any) -> str:
    return reverse(f"admin:quickscale_services_{model}_{view}", args=args)


def entry(slug: str) -> Service:
    return Service.objects.get(slug=slug)


def funded(make_user: Callable[..., Any], credits: int = 100) -> Any:
    owner = make_user()
    ledger.grant(owner, credits, source="purchase")
    return owner


def runs_for(owner: Any) -> None:
    """A succeeded and a failed run."""
    execute(owner, "word-count", {"text": "one two"})
    execute(owner, "explodes-inline", {})


def edit_in_list(client: Client, service: Service, **values: str) -> Any:
    """Submit the catalog changelist's inline editing form for one row."""
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(service.pk),
        "form-0-price_override": "",
        "_save": "Save",
    }
    if service.enabled:
        data["form-0-enabled"] = "on"
    for name, value in values.items():
        if name == "enabled" and not value:
            data.pop("form-0-enabled", None)
        else:
            data[f"form-0-{name}"] = value
    return client.post(url("service", "changelist"), data)


def run_action(client: Client, action: str, *services: Service) -> Any:
    return client.post(
        url("service", "changelist"),
        {"action": action, "_selected_action": [str(service.pk) for service in services]},
    )


# -- changelists ------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["service", "servicerun"])
def test_a_changelist_runs_the_same_queries_whatever_the_number_of_rows(
    admin_client: Client,
    make_user: Callable[..., Any],
    django_assert_max_num_queries: Any,
    model: str,
) -> None:
    runs_for(funded(make_user))
    with CaptureQueriesContext(connection) as few_rows:
        assert admin_client.get(url(model, "changelist")).status_code == 200
    assert len(few_rows) <= 6  # session, user, count, rows, the service filter
    for _ in range(10):
        runs_for(funded(make_user))
    for number in range(10):
        Service.objects.create(slug=f"retired-{number}", name=f"Retired {number}")

    with django_assert_max_num_queries(len(few_rows)):
        response = admin_client.get(url(model, "changelist"))

    assert response.status_code == 200


def test_the_catalog_lists_every_registered_service_with_its_default_price(
    admin_client: Client,
) -> None:
    response = admin_client.get(url("service", "changelist"))

    content = response.content.decode()
    assert {row.slug for row in response.context["cl"].result_list} >= {"echo", "per-word"}
    assert "2.00" in content
    assert "computed from the input" in content


def test_runs_can_be_filtered_by_status_mode_and_service(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    owner = funded(make_user)
    runs_for(owner)
    execute(owner, "echo", {"text": "held"})
    changelist = url("servicerun", "changelist")

    failed = admin_client.get(changelist, {"status__exact": "failed"}).context["cl"]
    held = admin_client.get(changelist, {"mode": "held"}).context["cl"]
    echo = admin_client.get(changelist, {"service__id__exact": entry("echo").pk}).context["cl"]

    assert [run.service.slug for run in failed.result_list] == ["explodes-inline"]
    assert [run.service.slug for run in held.result_list] == ["echo"]
    assert [run.mode for run in echo.result_list] == ["held"]


def test_runs_can_be_searched_by_the_users_email(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    owner = funded(make_user)
    runs_for(owner)
    runs_for(funded(make_user))

    response = admin_client.get(url("servicerun", "changelist"), {"q": owner.email})

    rows = response.context["cl"].result_list
    assert len(rows) == 2 and {run.user_id for run in rows} == {owner.pk}


# -- the catalog --------------------------------------------------------------------------


def test_services_cannot_be_added_or_deleted_in_the_admin(admin_client: Client) -> None:
    echo = entry("echo")

    assert admin_client.get(url("service", "add")).status_code == 403
    assert admin_client.get(url("service", "delete", echo.pk)).status_code == 403
    assert admin_client.post(url("service", "delete", echo.pk), {"post": "yes"}).status_code == 403
    assert Service.objects.filter(pk=echo.pk).exists()


def test_the_change_form_edits_only_the_switch_and_the_price(admin_client: Client) -> None:
    echo = entry("echo")

    response = admin_client.post(
        url("service", "change", echo.pk),
        {"slug": "hacked", "name": "Hacked", "enabled": "", "price_override": "3.50"},
    )

    assert response.status_code == 302
    echo.refresh_from_db()
    assert (echo.slug, echo.name, echo.enabled, echo.price_override) == (
        "echo",
        "Echo",
        False,
        D("3.50"),
    )


def test_the_change_form_links_to_the_services_runs(admin_client: Client) -> None:
    echo = entry("echo")

    response = admin_client.get(url("service", "change", echo.pk))

    assert f"?service__id__exact={echo.pk}" in response.content.decode()


def test_a_price_set_in_the_list_is_what_the_next_run_charges(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    owner = funded(make_user, credits=10)

    response = edit_in_list(admin_client, entry("echo"), price_override="0.75")

    assert response.status_code == 302
    run = execute(owner, "echo", {"text": "hi"})
    assert run.cost == D("0.75")
    assert ledger.balance(owner).available == D("9.25")


def test_a_price_override_also_replaces_a_computed_price(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    owner = funded(make_user, credits=3)
    edit_in_list(admin_client, entry("per-word"), price_override="2.50")

    # Ten words would hold 5.00 credits without the override.
    run = execute(owner, "per-word", {"text": "a b c d e f g h i j"})

    assert (run.status, run.reserved) == ("succeeded", D("2.50"))


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("1.005", "price has more than 2 decimal places"),
        ("-1", "price must be zero or more"),
    ],
)
def test_a_price_the_ledger_would_refuse_is_not_saved(
    admin_client: Client, price: str, message: str
) -> None:
    echo = entry("echo")

    response = edit_in_list(admin_client, echo, price_override=price)

    assert response.status_code == 200
    assert message in response.content.decode()
    echo.refresh_from_db()
    assert echo.price_override is None


def test_a_service_switched_off_in_the_list_refuses_to_run(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    owner = funded(make_user)

    edit_in_list(admin_client, entry("echo"), enabled="")

    with pytest.raises(ServiceDisabled):
        execute(owner, "echo", {"text": "hi"})


def test_the_disable_action_makes_the_services_refuse_to_run(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    owner = funded(make_user)

    response = run_action(admin_client, "disable", entry("echo"), entry("word-count"))

    assert response.status_code == 302
    with pytest.raises(ServiceDisabled, match="disabled"):
        execute(owner, "echo", {"text": "hi"})
    with pytest.raises(ServiceDisabled):
        execute(owner, "word-count", {"text": "hi"})
    assert not ServiceRun.objects.exists()
    assert ledger.balance(owner).available == D(100)


def test_the_enable_action_lets_a_disabled_service_run_again(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    owner = funded(make_user)
    Service.objects.filter(slug="echo").update(enabled=False)

    run_action(admin_client, "enable", entry("echo"))

    assert execute(owner, "echo", {"text": "hi"}).status == "succeeded"


def test_switching_services_on_and_off_is_logged_for_each_service(
    admin_client: Client,
) -> None:
    echo = entry("echo")
    Service.objects.filter(slug="free").update(enabled=False)

    run_action(admin_client, "disable", echo, entry("free"))

    logged = LogEntry.objects.get()
    assert (logged.object_id, logged.get_change_message()) == (str(echo.pk), "Changed Enabled.")


# -- runs ---------------------------------------------------------------------------------


def test_runs_are_read_only(admin_client: Client, make_user: Callable[..., Any]) -> None:
    runs_for(funded(make_user))
    run = ServiceRun.objects.get(status="succeeded")

    page = admin_client.get(url("servicerun", "change", run.pk))
    edit = admin_client.post(url("servicerun", "change", run.pk), {"status": "failed"})

    assert page.status_code == 200
    assert edit.status_code == 403
    assert admin_client.get(url("servicerun", "add")).status_code == 403
    assert admin_client.get(url("servicerun", "delete", run.pk)).status_code == 403
    run.refresh_from_db()
    assert run.status == "succeeded"


def test_a_runs_page_shows_its_output_and_error(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    runs_for(funded(make_user))
    succeeded = ServiceRun.objects.get(status="succeeded")
    failed = ServiceRun.objects.get(status="failed")

    output = admin_client.get(url("servicerun", "change", succeeded.pk)).content.decode()
    error = admin_client.get(url("servicerun", "change", failed.pk)).content.decode()

    assert "&quot;words&quot;: 2" in output
    assert "RuntimeError: bad luck" in error
