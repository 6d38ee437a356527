"""A minimal client for OpenAI-compatible ``POST {base_url}/chat/completions`` endpoints.

Standard library only, so the example needs no SDK. Any server speaking the same protocol
works: OpenAI, a local Ollama or vLLM, a gateway. Every failure becomes a
:class:`CompletionError` whose message says what went wrong, never showing the API key.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

#: Seconds to wait for the endpoint's answer.
REQUEST_TIMEOUT = 60
#: A larger answer is refused rather than read into memory.
MAX_RESPONSE_BYTES = 1_000_000
#: How much of an error body is quoted in the message.
ERROR_EXCERPT = 200


class CompletionError(Exception):
    """The endpoint gave no usable completion."""


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    finish_reason: str | None
    #: ``usage.total_tokens`` as reported by the endpoint, if it reported it.
    total_tokens: int | None


def endpoint_url(base_url: str) -> str:
    """``{base_url}/chat/completions``; only http(s) addresses are accepted."""
    if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
        raise CompletionError("The model endpoint must be an http:// or https:// address.")
    return base_url.rstrip("/") + "/chat/completions"


def chat_completion(
    *,
    base_url: str,
    api_key: str,
    model: str,
    prompt: str,
    max_tokens: int,
    timeout: float = REQUEST_TIMEOUT,
) -> Completion:
    """Ask ``model`` to complete ``prompt`` (one user message) and return its answer."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
    }
    request = urllib.request.Request(  # noqa: S310 (endpoint_url allows http(s) only)
        endpoint_url(base_url), data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise CompletionError(
            f"The model endpoint answered HTTP {error.code}{_excerpt(error)}."
        ) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise CompletionError(_timed_out(timeout)) from None
        raise CompletionError(f"The model endpoint cannot be reached: {error.reason}.") from None
    except TimeoutError:
        raise CompletionError(_timed_out(timeout)) from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise CompletionError(f"The model endpoint's answer is over {MAX_RESPONSE_BYTES} bytes.")
    return parse_completion(raw, requested_model=model)


def parse_completion(raw: bytes, *, requested_model: str = "") -> Completion:
    """The completion in an endpoint's JSON answer; a malformed answer is an error."""
    try:
        payload = json.loads(raw)
    except ValueError:
        raise CompletionError("The model endpoint's answer is not valid JSON.") from None
    try:
        choice = payload["choices"][0]
        text = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise CompletionError(
            "The model endpoint's answer has no completion (choices[0].message.content)."
        ) from None
    if not isinstance(text, str):
        raise CompletionError("The model endpoint's completion is not text.")
    usage = payload.get("usage")
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    return Completion(
        text=text,
        model=str(payload.get("model") or requested_model),
        finish_reason=choice.get("finish_reason"),
        total_tokens=(
            total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None
        ),
    )


def _timed_out(timeout: float) -> str:
    return f"The model endpoint did not answer within {timeout:g} seconds."


def _excerpt(error: urllib.error.HTTPError) -> str:
    """``: <the endpoint's message>`` from an error answer, shortened, or nothing."""
    try:
        body: Any = error.read(ERROR_EXCERPT * 10)
    except OSError:
        return ""
    try:
        detail = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        detail = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
    detail = " ".join(str(detail).split())
    if len(detail) > ERROR_EXCERPT:
        detail = detail[: ERROR_EXCERPT - 1] + "…"
    return f": {detail}" if detail else ""
