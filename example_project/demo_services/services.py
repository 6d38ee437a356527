"""The paid services of the example site.

Each class is all the framework needs: QuickScale imports this module at start-up, lists the
services in its catalog (where staff can price, enable and disable them) and charges the credits
when one runs. The work itself lives in :mod:`demo_services.analysis` and
:mod:`demo_services.llm`, plain functions that are tested on their own.
"""

from __future__ import annotations

import math
import time
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from demo_services import analysis, llm
from quickscale.services.base import BaseService, RunContext

#: The longest text the text services accept (about 15,000 words).
MAX_TEXT = 100_000


def text_field(help_text: str | Promise, max_length: int = MAX_TEXT) -> forms.CharField:
    return forms.CharField(
        label=_("Text"), max_length=max_length, widget=forms.Textarea, help_text=help_text
    )


class TextStatisticsForm(forms.Form):
    text = text_field(_("The text to measure."))


class TextStatistics(BaseService):
    slug = "text-statistics"
    name = "Text statistics"
    description = (
        "Counts the characters, words, sentences and paragraphs of a text, and gives its "
        "average word length, its reading time and its most common words."
    )
    cost = Decimal("0.50")
    # Fast and fixed-price: charged, run and recorded in one transaction.
    mode = "inline"
    input_form = TextStatisticsForm

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return analysis.text_statistics(data["text"])


#: Keyword extraction costs one credit per started block of this many characters.
KEYWORD_BLOCK = 1_000
DEFAULT_KEYWORDS = 5


class KeywordExtractionForm(forms.Form):
    text = text_field(
        format_lazy(_("One credit per started {block} characters."), block=f"{KEYWORD_BLOCK:,}")
    )
    count = forms.IntegerField(
        label=_("Keywords"),
        min_value=1,
        max_value=20,
        required=False,
        help_text=format_lazy(
            _("How many keywords to return (default {default})."), default=DEFAULT_KEYWORDS
        ),
    )

    def clean_count(self) -> int:
        count: int | None = self.cleaned_data["count"]
        return DEFAULT_KEYWORDS if count is None else count


def keyword_cost(text: str) -> Decimal:
    return Decimal(max(1, math.ceil(len(text) / KEYWORD_BLOCK)))


class KeywordExtraction(BaseService):
    slug = "keyword-extraction"
    name = "Keyword extraction"
    description = (
        "Finds the words a text is about: its most frequent words once common English words "
        f"are left out. One credit per started {KEYWORD_BLOCK:,} characters."
    )
    input_form = KeywordExtractionForm
    #: The least a run costs, for the playground's catalog ("from 1 credit").
    price_from = Decimal(1)

    def get_cost(self, data: dict[str, Any]) -> Decimal:
        return keyword_cost(data["text"])

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return {"keywords": analysis.keywords(data["text"], limit=data["count"])}


class SentimentForm(forms.Form):
    text = text_field(_("A review, a message, a comment…"), max_length=20_000)


class Sentiment(BaseService):
    slug = "sentiment"
    name = "Sentiment"
    description = (
        "Tells whether a text is positive, negative or neutral, with a score from -1 to 1 and "
        "the words that decided it. Understands negation (“not good”) and emphasis "
        "(“very good”)."
    )
    cost = Decimal("1.00")
    input_form = SentimentForm

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        return analysis.sentiment(data["text"])


#: A token is about four characters of English: enough to price a prompt before sending it.
CHARS_PER_TOKEN = 4
#: Completions cost one credit per this many tokens (prompt and answer together).
TOKENS_PER_CREDIT = 1_000
DEFAULT_MAX_TOKENS = 256


class CompletionForm(forms.Form):
    prompt = forms.CharField(label=_("Prompt"), max_length=8_000, widget=forms.Textarea)
    max_tokens = forms.IntegerField(
        label=_("Longest answer (tokens)"),
        min_value=1,
        max_value=4_000,
        required=False,
        help_text=format_lazy(_("Default {default}."), default=DEFAULT_MAX_TOKENS),
    )

    def clean_max_tokens(self) -> int:
        value: int | None = self.cleaned_data["max_tokens"]
        return DEFAULT_MAX_TOKENS if value is None else value


def completion_cost(prompt: str, max_tokens: int) -> Decimal:
    """What to hold: one credit per started 1,000 tokens the prompt and the longest answer
    could use together."""
    tokens = math.ceil(len(prompt) / CHARS_PER_TOKEN) + max_tokens
    return Decimal(max(1, math.ceil(tokens / TOKENS_PER_CREDIT)))


def usage_cost(total_tokens: int) -> Decimal:
    """What the tokens really used cost, rounded up to the smallest credit amount."""
    step = Decimal(1).scaleb(-settings.QUICKSCALE_CREDITS_DECIMAL_PLACES)
    return (Decimal(total_tokens) / TOKENS_PER_CREDIT).quantize(step, rounding=ROUND_CEILING)


def llm_settings() -> tuple[str, str, str]:
    """``DEMO_LLM_BASE_URL``, ``DEMO_LLM_API_KEY`` and ``DEMO_LLM_MODEL``, read at call time."""
    return (
        getattr(settings, "DEMO_LLM_BASE_URL", ""),
        getattr(settings, "DEMO_LLM_API_KEY", ""),
        getattr(settings, "DEMO_LLM_MODEL", ""),
    )


class LLMCompletion(BaseService):
    slug = "llm-completion"
    name = "LLM completion"
    description = (
        "Answers a prompt with a large language model behind any OpenAI-compatible API. "
        "Holds one credit per started 1,000 tokens the prompt and answer may use, then "
        "charges only the tokens the model reports."
    )
    input_form = CompletionForm
    price_from = Decimal(1)
    # The endpoint's own timeout fires first, with a clearer message than the framework's.
    timeout = llm.REQUEST_TIMEOUT + 15

    def is_available(self) -> bool:
        base_url, _, model = llm_settings()
        return bool(base_url and model)

    def get_cost(self, data: dict[str, Any]) -> Decimal:
        return completion_cost(data["prompt"], data["max_tokens"])

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        base_url, api_key, model = llm_settings()
        if not (base_url and model):
            raise llm.CompletionError("DEMO_LLM_BASE_URL and DEMO_LLM_MODEL are not set.")
        completion = llm.chat_completion(
            base_url=base_url,
            api_key=api_key,
            model=model,
            prompt=data["prompt"],
            max_tokens=data["max_tokens"],
        )
        if completion.total_tokens is not None:
            ctx.charge(min(ctx.cost, usage_cost(completion.total_tokens)))
        return {
            "completion": completion.text,
            "model": completion.model,
            "finish_reason": completion.finish_reason,
            "total_tokens": completion.total_tokens,
        }


#: How long the document report pretends to work: long enough to see a run queued, then running.
REPORT_WORK_SECONDS = 1.5
#: The longest a report waits for ``DEMO_REPORT_HOLD_FILE`` to go.
REPORT_HOLD_LIMIT = 60


def wait_while_held() -> None:
    """While the file named by ``DEMO_REPORT_HOLD_FILE`` exists, wait (a minute at most): a
    demo, or a test, can look at a report in progress for as long as it needs."""
    hold = getattr(settings, "DEMO_REPORT_HOLD_FILE", "")
    deadline = time.monotonic() + REPORT_HOLD_LIMIT
    while hold and Path(hold).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class DocumentReportForm(forms.Form):
    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        required=False,
        help_text=_("Shown at the top of the report."),
    )
    text = text_field(_("The document: an article, a report, a long email…"))


class DocumentReport(BaseService):
    slug = "document-report"
    name = "Document report"
    description = (
        "A full report on a document: its statistics, keywords and sentiment in one run. "
        "It runs in the background: the run is queued, then a worker writes the report."
    )
    cost = Decimal("2.00")
    # Held while a worker does the work; the credits are taken only when the report is ready.
    mode = "held"
    run_async = True
    input_form = DocumentReportForm

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        # Stands in for slow work (rendering a document, calling a model) so the demo shows
        # what a background run looks like while it waits.
        time.sleep(REPORT_WORK_SECONDS)
        wait_while_held()
        statistics = analysis.text_statistics(data["text"], top=5)
        if not statistics["words"]:
            # Raising fails the run: the held credits are released, nothing is charged. The
            # message is read when the run's error is stored, in the site's language.
            raise ValueError(_("The document has no words to report on."))
        return {
            # The worker runs outside any request: the site's language.
            "title": data["title"] or gettext("Untitled document"),
            "statistics": statistics,
            "keywords": analysis.keywords(data["text"]),
            "sentiment": analysis.sentiment(data["text"]),
        }
