"""The deployment checks of ``quickscale.apikeys`` (``check --deploy``) and the check of the
cache-down setting."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks

from quickscale.apikeys.checks import check_settings

PEPPER = "p" * 32
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
DUMMY = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
REDIS = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://cache.example.com:6379/0",  # no connection is made by the checks
}


def messages(*, deploy: bool) -> dict[str, checks.CheckMessage]:
    return {
        message.id: message
        for message in checks.run_checks(include_deployment_checks=deploy)
        if message.id and message.id.startswith("quickscale_apikeys.")
    }


# -- W001: a cache each process keeps for itself ----------------------------------------------


@pytest.mark.parametrize(
    "cache", [LOCMEM, DUMMY, {**LOCMEM, "LOCATION": "named"}], ids=["locmem", "dummy", "named"]
)
def test_a_process_local_rate_limit_cache_is_warned_about_on_deploy(
    settings: Any, cache: dict[str, str]
) -> None:
    settings.CACHES = {"default": cache}

    warning = messages(deploy=True)["quickscale_apikeys.W001"]

    assert warning.level == checks.WARNING
    assert "'default'" in warning.msg and cache["BACKEND"] in warning.msg
    assert "CACHES['default']" in str(warning.hint)
    assert "QUICKSCALE_APIKEYS_CACHE" in str(warning.hint)


def test_the_default_caches_of_a_project_that_sets_none_are_warned_about() -> None:
    # The test project sets no CACHES: Django's default is one LocMemCache.
    assert "quickscale_apikeys.W001" in messages(deploy=True)


def test_a_shared_rate_limit_cache_is_not_warned_about(settings: Any) -> None:
    settings.CACHES = {"default": REDIS}

    assert "quickscale_apikeys.W001" not in messages(deploy=True)


def test_the_cache_warning_looks_at_the_cache_the_rate_limits_use(settings: Any) -> None:
    settings.CACHES = {"default": LOCMEM, "rates": REDIS}
    settings.QUICKSCALE_APIKEYS_CACHE = "rates"
    assert "quickscale_apikeys.W001" not in messages(deploy=True)

    settings.CACHES = {"default": REDIS, "rates": LOCMEM}
    warning = messages(deploy=True)["quickscale_apikeys.W001"]
    assert "'rates'" in warning.msg


def test_an_unknown_cache_alias_is_left_to_its_own_error(settings: Any) -> None:
    settings.CACHES = {"default": LOCMEM}
    settings.QUICKSCALE_APIKEYS_CACHE = "missing"

    found = messages(deploy=True)

    assert "quickscale_apikeys.E009" in found
    assert "quickscale_apikeys.W001" not in found


def test_the_cache_warning_is_for_check_deploy_only(settings: Any) -> None:
    settings.CACHES = {"default": LOCMEM}

    assert "quickscale_apikeys.W001" not in messages(deploy=False)


# -- W002: a pepper derived from SECRET_KEY -------------------------------------------------


def test_a_pepper_derived_from_the_secret_key_is_warned_about_on_deploy(settings: Any) -> None:
    settings.QUICKSCALE_APIKEYS_PEPPERS = {}

    warning = messages(deploy=True)["quickscale_apikeys.W002"]

    assert warning.level == checks.WARNING
    assert "SECRET_KEY" in warning.msg and "every API key" in warning.msg
    assert "QUICKSCALE_APIKEYS_PEPPERS" in str(warning.hint)


def test_a_pepper_of_its_own_is_not_warned_about(settings: Any) -> None:
    settings.QUICKSCALE_APIKEYS_PEPPERS = {1: PEPPER}

    assert "quickscale_apikeys.W002" not in messages(deploy=True)


def test_the_pepper_warning_is_for_check_deploy_only(settings: Any) -> None:
    settings.QUICKSCALE_APIKEYS_PEPPERS = {}

    assert "quickscale_apikeys.W002" not in messages(deploy=False)


def test_the_deployment_checks_are_tagged_security(settings: Any) -> None:
    settings.CACHES = {"default": LOCMEM}
    settings.QUICKSCALE_APIKEYS_PEPPERS = {}

    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])

    assert {"quickscale_apikeys.W001", "quickscale_apikeys.W002"} <= {m.id for m in found}


# -- E011: the cache-down setting -----------------------------------------------------------


@pytest.mark.parametrize("value", [None, 0, 1, "open", "false"])
def test_the_fail_open_setting_must_be_a_boolean(settings: Any, value: Any) -> None:
    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN = value

    errors = [m for m in check_settings() if m.id == "quickscale_apikeys.E011"]

    assert len(errors) == 1
    assert "QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN" in errors[0].msg


@pytest.mark.parametrize("value", [True, False])
def test_either_boolean_passes(settings: Any, value: bool) -> None:
    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN = value

    assert "quickscale_apikeys.E011" not in {m.id for m in check_settings()}
