"""The live API against its own OpenAPI document: schemathesis, and a client generated from it.

Both talk to ``manage.py demo`` in a subprocess (the example project, its task worker and its
demo data, on the suite's kind of database), over HTTP, as any consumer of the document would:

* schemathesis 4 runs every check over its coverage, fuzzing and stateful phases and must find
  no failure;
* openapi-python-client generates a client from ``/api/v1/openapi.json`` with the project's
  templates for typed response headers, and a script calls every operation through it, reading
  the typed models and headers it returns; mypy checks those types in the script.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from quickscale.apikeys.scopes import SCOPES
from tests.api.generated_client import generate_client, needs_generator, type_check
from tests.example.conftest import (
    Commands,
    example_database_url,
    example_env,
    running_demo,
)

BIN = Path(sys.executable).parent
#: Fixed, so a failure found once is found again by the same command.
SEED = 20260101
#: Test cases per operation and phase: the whole run stays within a couple of minutes on two
#: cores (about 13 operations, three phases).
MAX_EXAMPLES = 40
#: schemathesis's settings: every check on every operation, except where a check cannot hold for
#: a reason of the tool's, named here with that reason (``positive_data_acceptance``: "a request
#: the document allows must be accepted").
CONFIG = """
checks.enabled = true
# No responses replayed from an earlier run's cache: each run asks the server.
cache.enabled = false

# The body of the generic run operation depends on its path's slug, which OpenAPI cannot
# express: its input is any service's input, and one valid for text-statistics
# ({"text": ...}) is rightly refused by llm-completion (which wants a "prompt"). Each
# service's own operation (/api/v1/services/text-statistics/runs...) describes its exact body
# and keeps this check.
[[operations]]
include-name = "POST /api/v1/services/{slug}/runs"
checks.positive_data_acceptance.enabled = false

# The cursor is opaque by design: only a next_cursor the server issued is valid, and no schema
# can describe that. Any other string matching its pattern ("0") is rightly refused with 400.
[[operations]]
include-name = ["GET /api/v1/credits/transactions", "GET /api/v1/runs"]
checks.positive_data_acceptance.enabled = false
"""


@dataclass(frozen=True)
class LiveAPI:
    """A running demo and the keys the tests call it with."""

    url: str
    #: Customers with a million credits, one for schemathesis and one for the generated
    #: client, so neither sees the other's runs; the keys have every scope and no practical
    #: rate limit.
    token: str
    client_token: str
    #: A customer without credits: every paid run is refused with 402.
    poor_token: str
    log: Path

    @property
    def document_url(self) -> str:
        return self.url + "/api/v1/openapi.json"


def create_key(commands: Commands, email: str, credits: str | None = None) -> str:
    """A key with every scope for ``email`` (made now, with ``credits``), whose limit a test
    run cannot reach."""
    ok, _, err = commands.run("create_user", email, "--password", "a-long-test-password-1")
    assert ok, err
    if credits is not None:
        ok, _, err = commands.run("credits", "grant", email, credits, "--source", "promotion")
        assert ok, err
    scopes = [arg for scope in sorted(SCOPES) for arg in ("--scope", scope)]
    ok, out, err = commands.run(
        "apikeys", "create", email, "--name", "Contract", *scopes,
        "--rate-limit", "1000000", "-v", "0",
    )  # fmt: skip
    assert ok, err
    return out.strip()


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAPI]:
    """``manage.py demo`` on a free port (web server and task worker), with two funded
    customers and one without credits, each with a key."""
    workdir = tmp_path_factory.mktemp("contract")
    # schemathesis's authentication checks send a few hundred requests without a key or with a
    # wrong one; past QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT a minute the address would be refused
    # with 429 whatever key it sends, and the rest of the run would test nothing.
    (workdir / "contract_settings.py").write_text(
        "from core.settings import *  # noqa: F403\n"
        "QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 1_000_000\n"
    )
    database = example_database_url(workdir, "contract")
    env = example_env(
        workdir,
        DATABASE_URL=next(database),
        DJANGO_SETTINGS_MODULE="contract_settings",
        PYTHONPATH=str(workdir),
    )
    try:
        with running_demo(workdir, env, ready="/api/v1/openapi.json") as (url, log):
            commands = Commands(env)
            try:
                token = create_key(commands, "contract-fuzzed@example.com", "1000000")
                client_token = create_key(commands, "contract-client@example.com", "1000000")
                poor_token = create_key(commands, "contract-poor@example.com")
            finally:
                commands.close()
            yield LiveAPI(url, token, client_token, poor_token, log)
    finally:
        database.close()


def junit_failures(report: Path) -> list[str]:
    """The failed test cases of a JUnit report, with their messages."""
    failures = []
    for case in ET.parse(report).getroot().iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            failures.append(f"{case.get('name')}: {problem.get('message') or problem.text}")
    return failures


def test_schemathesis_finds_no_failure(live_api: LiveAPI, tmp_path: Path) -> None:
    """Every check of schemathesis over its coverage, fuzzing and stateful phases, with a key
    of every scope: no server error, no answer the document does not describe, no valid request
    refused, no invalid one accepted."""
    report = tmp_path / "junit.xml"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        live_api.document_url,
        "--phases",
        "coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {live_api.token}",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "--no-color",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    failures = junit_failures(report) if report.exists() else []
    assert result.returncode == 0 and not failures, (
        f"schemathesis exited with {result.returncode}; failures:\n"
        + "\n".join(failures)
        + f"\n\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
    )
    # A 429 passes every check, so a throttled run would pass without testing anything.
    throttled = [line for line in live_api.log.read_text().splitlines() if '" 429 ' in line]
    assert not throttled, throttled[:5]


#: What the generated client is asked to do, in a subprocess with it on ``sys.path``; it
#: prints what it saw as one line of JSON. The client is generated with the project's templates
#: (:mod:`quickscale.api.client_templates`), so each response's declared headers come as a typed
#: class: ``assert_type`` lets mypy (run on this script) prove their types, and the run checks
#: their values.
CLIENT_SCRIPT = """
import json, sys, time
from typing import Any, Literal, TypeVar, assert_type

from qs_api_client import AuthenticatedClient, Client
from qs_api_client.api.credits_ import balance, transactions
from qs_api_client.api.runs import run_detail, run_list
from qs_api_client.api.services import (
    HeaderError,
    RunDocumentReport202Headers,
    RunTextStatistics201Headers,
    RunTextStatistics401Headers,
    create_run,
    run_document_report,
    run_text_statistics,
    services,
)
from qs_api_client.api.usage import usage
from qs_api_client.models import (
    Balance, Error, Run, RunCreated, RunDocumentReportBody, RunPage, RunRequest,
    RunTextStatisticsBody, ServiceList, TransactionPage, Usage,
)
from qs_api_client.models.create_run_slug import CreateRunSlug
from qs_api_client.types import Response

import httpx

T = TypeVar("T")

url, token, poor_token = sys.argv[1:4]
timeout = httpx.Timeout(60)
client = AuthenticatedClient(base_url=url, token=token, timeout=timeout)
poor = AuthenticatedClient(base_url=url, token=poor_token, timeout=timeout)
anonymous = Client(base_url=url, timeout=timeout)
seen: dict[str, Any] = {}

def parsed(response: Response[Any], kind: type[T], status: int) -> T:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert isinstance(response.parsed, kind), (type(response.parsed), response.content[:500])
    return response.parsed

def text_body(text: str) -> RunTextStatisticsBody:
    return RunTextStatisticsBody.from_dict({"input": {"text": text}})

funded = parsed(balance.sync_detailed(client=client), Balance, 200)
seen["balance"] = funded.available

catalog = parsed(services.sync_detailed(client=client), ServiceList, 200)
seen["services"] = sorted(service.slug for service in catalog.data)
seen["async"] = sorted(service.slug for service in catalog.data if service.async_)

created = run_text_statistics.sync_detailed(client=client, body=text_body("One two three."))
sync_run = parsed(created, RunCreated, 201)
created_headers = RunTextStatistics201Headers.from_response(created)
assert_type(created_headers.location, str)
seen["sync"] = [sync_run.status.value, sync_run.output["words"], created_headers.location]

generic = create_run.sync_detailed(
    CreateRunSlug.TEXT_STATISTICS, client=client,
    body=RunRequest.from_dict({"input": {"text": "Four five."}}),
)
seen["generic"] = parsed(generic, RunCreated, 201).output["words"]

first = run_text_statistics.sync_detailed(
    client=client, body=text_body("Once only."), idempotency_key="contract-replay"
)
again = run_text_statistics.sync_detailed(
    client=client, body=text_body("Once only."), idempotency_key="contract-replay"
)
first_headers = RunTextStatistics201Headers.from_response(first)
again_headers = RunTextStatistics201Headers.from_response(again)
assert_type(again_headers.idempotent_replayed, Literal["true"] | None)
seen["replay"] = [
    parsed(first, RunCreated, 201).id == parsed(again, RunCreated, 201).id,
    first_headers.idempotent_replayed,
    again_headers.idempotent_replayed,
    again_headers.location == first_headers.location,
]

queued = run_document_report.sync_detailed(
    client=client,
    body=RunDocumentReportBody.from_dict({"input": {"title": "T", "text": "Good words here."}}),
)
async_run = parsed(queued, RunCreated, 202)
queued_headers = RunDocumentReport202Headers.from_response(queued)
seen["async_run"] = [async_run.status.value, queued_headers.location]
deadline = time.monotonic() + 60
while True:
    fetched = parsed(run_detail.sync_detailed(async_run.id, client=client), Run, 200)
    if fetched.status.value not in ("queued", "running") or time.monotonic() > deadline:
        break
    time.sleep(0.25)
seen["async_done"] = [fetched.status.value, fetched.output and fetched.output["title"]]

pages: list[list[int]] = []
cursor: str | None = None
while True:
    if cursor is None:
        response = transactions.sync_detailed(client=client, limit=2)
    else:
        response = transactions.sync_detailed(client=client, limit=2, cursor=cursor)
    page = parsed(response, TransactionPage, 200)
    pages.append([item.id for item in page.data])
    cursor = page.next_cursor if isinstance(page.next_cursor, str) else None
    if not cursor:
        break
seen["transaction_pages"] = pages

runs = parsed(run_list.sync_detailed(client=client, limit=3), RunPage, 200)
seen["runs"] = [len(runs.data), runs.next_cursor is not None]

spent = parsed(usage.sync_detailed(client=client), Usage, 200)
seen["usage"] = sum(day.runs for day in spent.data)

refused = run_text_statistics.sync_detailed(client=poor, body=text_body("x y"))
seen["402"] = parsed(refused, Error, 402).error.code.value
try:
    RunTextStatistics201Headers.from_response(refused)
except HeaderError as error:
    seen["not_201"] = str(error)
else:
    seen["not_201"] = "read as a 201"

huge = run_text_statistics.sync_detailed(client=client, body=text_body("x" * 3_000_000))
seen["413"] = parsed(huge, Error, 413).error.code.value

# Without a key on purpose: the typed client rightly asks for an AuthenticatedClient here.
anonymous_run = run_text_statistics.sync_detailed(
    client=anonymous, body=text_body("x")  # type: ignore[arg-type]
)
challenge = RunTextStatistics401Headers.from_response(anonymous_run)
assert_type(challenge.www_authenticate, Literal['Bearer realm="api"'])
seen["401"] = [
    parsed(anonymous_run, Error, 401).error.code.value,
    anonymous_run.headers["Content-Type"],
    challenge.www_authenticate,
    challenge.cache_control,
]
print(json.dumps(seen))
"""


@needs_generator
def test_generated_client_calls_every_operation(live_api: LiveAPI, tmp_path: Path) -> None:
    """A client generated from the document, without warnings, reaches every operation and
    parses every answer into its typed model and typed headers: success, replay, 401, 402 and
    413 alike."""
    generate_client(tmp_path, "qs_api_client", "--url", live_api.document_url)
    script = tmp_path / "use_client.py"
    script.write_text(textwrap.dedent(CLIENT_SCRIPT))
    # The headers are typed: mypy, strict, accepts the script's use of them and its assert_type
    # calls (which fail on any other type, Any included), and the generated client itself.
    typed = type_check(tmp_path, script.name)
    assert typed.returncode == 0, typed.stdout + typed.stderr
    ran = subprocess.run(
        [sys.executable, str(script), live_api.url, live_api.client_token, live_api.poor_token],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(BIN)},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    seen = json.loads(ran.stdout.strip().splitlines()[-1])

    assert seen["balance"] == "1000000.00"
    assert "text-statistics" in seen["services"]
    assert seen["async"] == ["document-report"]
    status, words, location = seen["sync"]
    assert (status, words) == ("succeeded", 3)
    assert "/api/v1/runs/" in location
    assert seen["generic"] == 2
    assert seen["replay"] == [True, None, "true", True]
    assert seen["async_run"][0] in ("queued", "running")
    assert "/api/v1/runs/" in seen["async_run"][1]
    assert seen["async_done"] == ["succeeded", "T"]
    # The grant and the runs' debits (or holds and captures), two to a page, newest first,
    # each once.
    pages = seen["transaction_pages"]
    ids = [id for page in pages for id in page]
    assert len(pages) >= 3 and all(len(page) == 2 for page in pages[:-1])
    assert ids == sorted(set(ids), reverse=True)
    assert seen["runs"] == [3, True]
    assert seen["usage"] == 4
    assert seen["402"] == "insufficient_credits"
    assert seen["not_201"] == "the response is a 402, not a 201"
    assert seen["413"] == "payload_too_large"
    assert seen["401"] == [
        "authentication_failed",
        "application/json",
        'Bearer realm="api"',
        "no-store",
    ]
