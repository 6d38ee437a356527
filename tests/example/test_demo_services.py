"""The example project's paid services: their analysis, the LLM client, and runs end to end.

The example project is not installed in the suite's settings, so its ``demo_services`` package is
imported from ``example_project/`` and its classes are taken out of the registry again: the
suite's catalog stays what ``tests.settings`` makes it, and the tests that run them through
:func:`~quickscale.services.execution.execute` register them for their own duration.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from quickscale.credits import ledger
from quickscale.services.base import RunContext
from quickscale.services.exceptions import InvalidInput, ServiceDisabled
from quickscale.services.execution import execute
from quickscale.services.models import ServiceRun
from quickscale.services.registry import registry
from tests.example.conftest import EXAMPLE_DIR, example_env, run_manage

if str(EXAMPLE_DIR) not in sys.path:
    sys.path.append(str(EXAMPLE_DIR))
analysis = importlib.import_module("demo_services.analysis")
llm = importlib.import_module("demo_services.llm")
demo = importlib.import_module("demo_services.services")
DEMO_SERVICES = [demo.TextStatistics, demo.KeywordExtraction, demo.Sentiment, demo.LLMCompletion]
for _service in DEMO_SERVICES:
    registry.unregister(_service.slug)

API_KEY = "sk-test-not-secret"
MODEL = "demo-model"


def context(cost: str = "10") -> RunContext:
    """What the framework hands ``run()``; these services never look at the user or run."""
    return RunContext(user=None, run=None, cost=D(cost))


def clean(service: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` through the service's form, as the framework validates it."""
    form = service.input_form(data=data)
    assert form.is_valid(), form.errors
    return dict(form.cleaned_data)


@pytest.fixture
def registered(db: None) -> Iterator[None]:
    """The demo services in the registry, as in the example project, for one test."""
    for service in DEMO_SERVICES:
        registry.register(service)
    yield
    for service in DEMO_SERVICES:
        registry.unregister(service.slug)


@pytest.fixture
def customer(registered: None, django_user_model: Any) -> Any:
    owner = django_user_model.objects.create_user(username="ann", email="ann@example.com")
    ledger.grant(owner, 10, source="purchase")
    return owner


def available(user: Any) -> D:
    return ledger.balance(user).available


# -- text analysis ------------------------------------------------------------------------


def test_words_are_lower_cased_and_keep_inner_apostrophes_and_hyphens() -> None:
    assert analysis.words("Don\u2019t stop: well-known APIs, 2 of them!") == [
        "don't",
        "stop",
        "well-known",
        "apis",
        "2",
        "of",
        "them",
    ]


def test_text_statistics_counts_a_text() -> None:
    text = "The cat sat. The cat ran!\n\nA dog barked?  Yes"

    stats = analysis.text_statistics(text)

    assert stats["characters"] == len(text)
    assert stats["words"] == 10
    assert stats["sentences"] == 4
    assert stats["paragraphs"] == 2
    assert stats["average_word_length"] == 3.1  # 31 letters in 10 words


def test_reading_time_is_counted_at_230_words_a_minute() -> None:
    assert analysis.text_statistics("word " * 460)["reading_time_minutes"] == 2.0
    assert analysis.text_statistics("word " * 115)["reading_time_minutes"] == 0.5


def test_the_most_common_words_leave_out_stop_words_and_break_ties_by_first_use() -> None:
    text = "The ledger and the credits. The ledger holds credits; services use the ledger."

    common = analysis.text_statistics(text)["most_common_words"]

    assert common == [
        {"word": "ledger", "count": 3},
        {"word": "credits", "count": 2},
        {"word": "holds", "count": 1},
        {"word": "services", "count": 1},
        {"word": "use", "count": 1},
    ]


def test_statistics_of_a_text_without_words_are_zero() -> None:
    stats = analysis.text_statistics("... !!! ---")

    assert (stats["words"], stats["sentences"], stats["average_word_length"]) == (0, 0, 0)
    assert stats["most_common_words"] == []


def test_keywords_are_ranked_by_term_frequency_without_stop_words() -> None:
    text = "Credits buy services. Services spend credits. The ledger records credits."

    found = analysis.keywords(text, limit=2)

    assert found == [
        {"keyword": "credits", "count": 3, "score": round(3 / 9, 4)},
        {"keyword": "services", "count": 2, "score": round(2 / 9, 4)},
    ]


def test_keywords_of_a_text_of_stop_words_are_none() -> None:
    assert analysis.keywords("and the of it is", limit=5) == []


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("The support team was friendly and helpful.", "positive"),
        ("The update is slow and the app crashed twice.", "negative"),
        ("The meeting is on Tuesday at noon.", "neutral"),
        ("This is not good.", "negative"),
        ("Never bad, honestly.", "positive"),
        ("It isn't great.", "negative"),
        ("No, this is good.", "positive"),
    ],
)
def test_sentiment_labels_a_text(text: str, label: str) -> None:
    assert analysis.sentiment(text)["label"] == label


def test_a_text_without_opinion_words_scores_zero() -> None:
    assert analysis.sentiment("The meeting is on Tuesday.") == {
        "score": 0.0,
        "label": "neutral",
        "matches": [],
    }


def test_intensifiers_strengthen_a_sentiment() -> None:
    plain = analysis.sentiment("good")["score"]

    assert analysis.sentiment("very good")["score"] > plain > 0
    assert analysis.sentiment("extremely bad")["score"] < analysis.sentiment("bad")["score"] < 0


def test_sentiment_reports_the_words_that_decided_it() -> None:
    matches = analysis.sentiment("Not bad at all, really very good.")["matches"]

    assert matches == [
        {"word": "bad", "weight": 1.0, "negated": True},
        {"word": "good", "weight": 2.25, "negated": False},
    ]


@given(st.lists(st.sampled_from(["good", "bad", "not", "very", "the", "."]), max_size=60))
def test_a_sentiment_score_is_always_between_minus_one_and_one(tokens: list[str]) -> None:
    result = analysis.sentiment(" ".join(tokens))

    assert -1 <= result["score"] <= 1
    assert result["label"] == (
        "positive"
        if result["score"] >= 0.05
        else "negative"
        if result["score"] <= -0.05
        else "neutral"
    )


# -- the text services ------------------------------------------------------------------


def test_text_statistics_runs_on_its_forms_input() -> None:
    output = demo.TextStatistics().run(context(), clean(demo.TextStatistics, {"text": "Hi there."}))

    assert (output["words"], output["sentences"]) == (2, 1)


def test_keyword_extraction_returns_five_keywords_unless_asked_otherwise() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"

    default = demo.KeywordExtraction().run(context(), clean(demo.KeywordExtraction, {"text": text}))
    three = demo.KeywordExtraction().run(
        context(), clean(demo.KeywordExtraction, {"text": text, "count": 3})
    )

    assert len(default["keywords"]) == 5
    assert [k["keyword"] for k in three["keywords"]] == ["alpha", "beta", "gamma"]


@pytest.mark.parametrize("count", [0, 21, "many"])
def test_keyword_extraction_asks_for_1_to_20_keywords(count: Any) -> None:
    form = demo.KeywordExtractionForm(data={"text": "words", "count": count})

    assert not form.is_valid()
    assert "count" in form.errors


@pytest.mark.parametrize(("length", "credits"), [(1, 1), (1000, 1), (1001, 2), (2500, 3)])
def test_keyword_extraction_costs_a_credit_per_started_thousand_characters(
    length: int, credits: int
) -> None:
    assert demo.KeywordExtraction().get_cost({"text": "x" * length, "count": 5}) == credits


def test_sentiment_runs_on_its_forms_input() -> None:
    output = demo.Sentiment().run(context(), clean(demo.Sentiment, {"text": "I love it"}))

    assert output["label"] == "positive"


def test_the_demo_services_charge_through_the_framework(customer: Any) -> None:
    stats = execute(customer, "text-statistics", {"text": "One two three."})
    keywords = execute(customer, "keyword-extraction", {"text": "ledger " * 300})
    mood = execute(customer, "sentiment", {"text": "What a wonderful day"})

    assert (stats.status, stats.mode, stats.cost) == ("succeeded", "inline", D("0.50"))
    assert (keywords.status, keywords.mode, keywords.cost) == ("succeeded", "held", D(3))
    assert keywords.output["keywords"][0]["keyword"] == "ledger"
    assert (mood.cost, mood.output["label"]) == (D(1), "positive")
    assert available(customer) == D("5.50")


def test_invalid_input_to_a_demo_service_is_refused_naming_the_field(customer: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        execute(customer, "keyword-extraction", {"text": "words", "count": 21})

    assert list(refused.value.details) == ["count"]
    assert available(customer) == D(10)


# -- the LLM completion service -------------------------------------------------------------


@dataclass
class FakeLLM:
    """An OpenAI-compatible ``/chat/completions`` endpoint that answers as told."""

    url: str
    #: ``ok``, ``error``, ``not-json``, ``no-choices`` or ``slow``.
    behaviour: str = "ok"
    total_tokens: int | None = 1500
    requests: list[dict[str, Any]] = field(default_factory=list)


def completion_body(fake: FakeLLM, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello back!"},
                "finish_reason": "stop",
            }
        ],
    }
    if fake.total_tokens is not None:
        body["usage"] = {"prompt_tokens": 5, "total_tokens": fake.total_tokens}
    return body


def handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self.path != "/v1/chat/completions":
                self.answer(404, {"error": {"message": f"no route {self.path}"}})
            elif self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self.answer(401, {"error": {"message": "Incorrect API key provided."}})
            elif body.get("model") != MODEL:
                self.answer(
                    404, {"error": {"message": f"The model {body.get('model')} does not exist."}}
                )
            elif fake.behaviour == "error":
                self.answer(500, {"error": {"message": "The server had an error."}})
            elif fake.behaviour == "not-json":
                self.answer(200, b"<html>Bad gateway</html>")
            elif fake.behaviour == "no-choices":
                self.answer(200, {"object": "chat.completion", "choices": []})
            elif fake.behaviour == "slow":
                time.sleep(1)
                self.answer(200, completion_body(fake, MODEL))
            else:
                self.answer(200, completion_body(fake, body["model"]))

        def answer(self, status: int, payload: Any) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # a client that gave up waiting
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    host, port = server.server_address[:2]
    fake.url = f"http://{host}:{port}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def configured(fake_llm: FakeLLM) -> Iterator[FakeLLM]:
    with override_settings(
        DEMO_LLM_BASE_URL=fake_llm.url, DEMO_LLM_API_KEY=API_KEY, DEMO_LLM_MODEL=MODEL
    ):
        yield fake_llm


def complete(fake: FakeLLM, **options: Any) -> Any:
    arguments = {
        "base_url": fake.url,
        "api_key": API_KEY,
        "model": MODEL,
        "prompt": "Say hello",
        "max_tokens": 50,
        **options,
    }
    return llm.chat_completion(**arguments)


def test_the_client_posts_the_prompt_with_the_key_and_model(fake_llm: FakeLLM) -> None:
    completion = complete(fake_llm)

    assert completion == llm.Completion(
        text="Hello back!", model=MODEL, finish_reason="stop", total_tokens=1500
    )
    (request,) = fake_llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert request["body"] == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say hello"}],
        "max_tokens": 50,
    }


def test_a_base_url_with_a_trailing_slash_works(fake_llm: FakeLLM) -> None:
    assert complete(fake_llm, base_url=fake_llm.url + "/").text == "Hello back!"


@pytest.mark.parametrize(
    ("behaviour", "options", "message"),
    [
        ("error", {}, "The model endpoint answered HTTP 500: The server had an error."),
        ("ok", {"api_key": "wrong"}, "answered HTTP 401: Incorrect API key provided."),
        ("ok", {"model": "other"}, "answered HTTP 404: The model other does not exist."),
        ("not-json", {}, "The model endpoint's answer is not valid JSON."),
        ("no-choices", {}, "answer has no completion (choices[0].message.content)"),
        ("slow", {"timeout": 0.2}, "The model endpoint did not answer within 0.2 seconds."),
    ],
    ids=["http-500", "bad-key", "unknown-model", "not-json", "no-choices", "timeout"],
)
def test_an_endpoint_failure_is_an_error_saying_what_went_wrong(
    fake_llm: FakeLLM, behaviour: str, options: dict[str, Any], message: str
) -> None:
    fake_llm.behaviour = behaviour

    with pytest.raises(llm.CompletionError, match=re.escape(message)):
        complete(fake_llm, **options)


def test_an_unreachable_endpoint_is_an_error(fake_llm: FakeLLM) -> None:
    with pytest.raises(llm.CompletionError, match="cannot be reached"):
        complete(fake_llm, base_url="http://127.0.0.1:1/v1")


def test_only_http_endpoints_are_called() -> None:
    with pytest.raises(llm.CompletionError, match=r"http:// or https://"):
        llm.endpoint_url("file:///etc/passwd")


def test_an_answer_without_usage_has_no_token_count() -> None:
    raw = json.dumps({"choices": [{"message": {"content": "Hi"}}]}).encode()

    assert llm.parse_completion(raw, requested_model=MODEL) == llm.Completion(
        text="Hi", model=MODEL, finish_reason=None, total_tokens=None
    )


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "credits"),
    [("x" * 400, 256, 1), ("x" * 400, 900, 1), ("x" * 400, 901, 2), ("x" * 8000, 4000, 6)],
)
def test_a_completion_holds_a_credit_per_started_thousand_tokens_it_may_use(
    prompt: str, max_tokens: int, credits: int
) -> None:
    assert demo.completion_cost(prompt, max_tokens) == credits


@pytest.mark.parametrize(
    ("tokens", "credits"), [(0, "0.00"), (1, "0.01"), (1234, "1.24"), (1500, "1.50")]
)
def test_the_tokens_used_are_charged_rounded_up_to_a_hundredth(tokens: int, credits: str) -> None:
    assert demo.usage_cost(tokens) == D(credits)


def test_the_completion_form_defaults_to_256_tokens() -> None:
    assert clean(demo.LLMCompletion, {"prompt": "Hi"}) == {"prompt": "Hi", "max_tokens": 256}


def test_the_completion_service_is_unavailable_until_configured(fake_llm: FakeLLM) -> None:
    assert not demo.LLMCompletion().is_available()
    with override_settings(DEMO_LLM_BASE_URL=fake_llm.url, DEMO_LLM_MODEL=MODEL):
        assert demo.LLMCompletion().is_available()


def test_run_returns_the_completion_and_charges_the_tokens_used(configured: FakeLLM) -> None:
    ctx = context(cost="3")

    output = demo.LLMCompletion().run(ctx, {"prompt": "Say hello", "max_tokens": 2000})

    assert output == {
        "completion": "Hello back!",
        "model": MODEL,
        "finish_reason": "stop",
        "total_tokens": 1500,
    }
    assert ctx.charged == D("1.50")


def test_run_raises_when_the_endpoint_fails(configured: FakeLLM) -> None:
    configured.behaviour = "error"

    with pytest.raises(llm.CompletionError, match="HTTP 500"):
        demo.LLMCompletion().run(context(), {"prompt": "Say hello", "max_tokens": 10})


def test_a_completion_is_charged_for_its_tokens_through_the_framework(
    customer: Any, configured: FakeLLM
) -> None:
    run = execute(customer, "llm-completion", {"prompt": "Say hello", "max_tokens": 2000})

    assert (run.status, run.reserved, run.cost) == ("succeeded", D(3), D("1.50"))
    assert run.output["completion"] == "Hello back!"
    assert available(customer) == D("8.50")
    assert ledger.verify(customer) == []


@pytest.mark.parametrize(("tokens", "charged"), [(9000, "3.00"), (None, "3.00")])
def test_a_completion_is_charged_at_most_what_was_held(
    customer: Any, configured: FakeLLM, tokens: int | None, charged: str
) -> None:
    configured.total_tokens = tokens

    run = execute(customer, "llm-completion", {"prompt": "Say hello", "max_tokens": 2000})

    assert run.cost == D(charged)


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [("error", "HTTP 500"), ("not-json", "not valid JSON")],
)
def test_a_failed_completion_is_recorded_and_costs_nothing(
    customer: Any, configured: FakeLLM, behaviour: str, error: str
) -> None:
    configured.behaviour = behaviour

    run = execute(customer, "llm-completion", {"prompt": "Say hello"})

    assert run.status == "failed"
    assert run.error.startswith("CompletionError: ") and error in run.error
    assert available(customer) == D(10)


def test_an_unconfigured_completion_service_refuses_without_charging(customer: Any) -> None:
    with pytest.raises(ServiceDisabled, match="not configured"):
        execute(customer, "llm-completion", {"prompt": "Say hello"})

    assert not ServiceRun.objects.exists()
    assert available(customer) == D(10)


# -- in the example project -----------------------------------------------------------------


@pytest.fixture
def example_customer(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """A migrated example project with a customer holding five credits; returns its
    environment with ``variables`` added."""

    def make(**variables: str) -> dict[str, str]:
        env = example_env(tmp_path, **variables)
        steps = [
            ("migrate", "-v", "0"),
            (
                "shell",
                "-v",
                "0",
                "-c",
                "from users.models import CustomUser; "
                "CustomUser.objects.create_user('lin@example.com', 'not-a-real-password')",
            ),
            ("credits", "grant", "lin@example.com", "5", "--source", "admin"),
        ]
        for step in steps:
            result = run_manage(*step, env=env)
            assert result.returncode == 0, result.stderr
        return env

    return make


def listed(output: str) -> dict[str, list[str]]:
    """The rows of ``services list`` by slug, cut into cells at runs of spaces."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in output.splitlines()[1:]]
    return {row[0]: row[1:] for row in rows}


def test_the_example_project_lists_its_demo_services(tmp_path: Path) -> None:
    env = example_env(tmp_path)
    assert run_manage("migrate", "-v", "0", env=env).returncode == 0

    result = run_manage("services", "list", env=env)

    assert result.returncode == 0, result.stderr
    assert listed(result.stdout) == {
        "document-report": ["Document report", "2.00", "held, async", "yes", "yes"],
        "keyword-extraction": ["Keyword extraction", "computed", "held", "yes", "yes"],
        "llm-completion": ["LLM completion", "computed", "held", "yes", "no"],
        "sentiment": ["Sentiment", "1.00", "held", "yes", "yes"],
        "text-statistics": ["Text statistics", "0.50", "inline", "yes", "yes"],
    }


def test_the_llm_service_is_available_once_its_endpoint_and_model_are_set(
    tmp_path: Path,
) -> None:
    env = example_env(tmp_path, DEMO_LLM_BASE_URL="http://127.0.0.1:9/v1", DEMO_LLM_MODEL="m")
    assert run_manage("migrate", "-v", "0", env=env).returncode == 0

    result = run_manage("services", "list", env=env)

    assert listed(result.stdout)["llm-completion"][-1] == "yes"


def test_services_run_charges_the_customer_and_prints_the_result(
    example_customer: Callable[..., dict[str, str]],
) -> None:
    env = example_customer()
    text = "QuickScale sells services. Services spend credits.\n\nCredits are prepaid."

    result = run_manage(
        "services",
        "run",
        "lin@example.com",
        "text-statistics",
        "--input",
        json.dumps({"text": text}),
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert "Run 1 of text-statistics: succeeded" in result.stdout
    output = json.JSONDecoder().raw_decode(result.stdout.split("Output:\n", 1)[1])[0]
    assert (output["words"], output["sentences"], output["paragraphs"]) == (9, 3, 2)
    assert output["most_common_words"][0] == {"word": "services", "count": 2}
    assert re.search(r"available:\s+4\.50", result.stdout)


def test_services_run_of_an_llm_completion_calls_the_configured_endpoint(
    example_customer: Callable[..., dict[str, str]], fake_llm: FakeLLM
) -> None:
    env = example_customer(
        DEMO_LLM_BASE_URL=fake_llm.url, DEMO_LLM_API_KEY=API_KEY, DEMO_LLM_MODEL=MODEL
    )

    result = run_manage(
        "services",
        "run",
        "lin@example.com",
        "llm-completion",
        "--input",
        '{"prompt": "Hi"}',
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert '"completion": "Hello back!"' in result.stdout
    assert "cost:         1.00" in result.stdout  # 1,500 tokens, capped at the credit held
    assert len(fake_llm.requests) == 1


def test_a_failed_run_in_the_example_project_exits_non_zero_and_charges_nothing(
    example_customer: Callable[..., dict[str, str]], fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour = "error"
    env = example_customer(
        DEMO_LLM_BASE_URL=fake_llm.url, DEMO_LLM_API_KEY=API_KEY, DEMO_LLM_MODEL=MODEL
    )

    result = run_manage(
        "services",
        "run",
        "lin@example.com",
        "llm-completion",
        "--input",
        '{"prompt": "Hi"}',
        env=env,
    )

    assert result.returncode == 1
    assert "failed: CompletionError: The model endpoint answered HTTP 500" in result.stderr
    assert re.search(r"available:\s+5\.00", result.stdout)
