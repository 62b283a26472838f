"""Extraction by an OpenAI-compatible chat-completions endpoint.

Configured by settings LLM_BASE_URL (e.g. https://api.openai.com/v1, or a local server such as
llama.cpp's `llama-server`, Ollama or vLLM at http://127.0.0.1:<port>/v1), LLM_API_KEY, LLM_MODEL
and LLM_TIMEOUT_SECONDS. The model is asked for one JSON object fitting the schema
(`response_format: json_object`), each field with its type and its description; transient
failures (timeouts, connection errors, 429 and 5xx) are retried a few times, anything else fails
the run with the reason. A reply that is not a JSON object is "unparseable output" and fails the
run (CallingBox semantics); a value that does not fit its field's type is refused by
`schema.coerce(strict=True)` and that field stays null, with the reason in `result_error`.
"""

from __future__ import annotations

import json
import logging
import re
import time

from django.conf import settings

from callops.extraction.clock import call_time
from callops.extraction.schema import describe, field
from callops.extraction.transcript import as_text
from callops.lib import http

from . import ExtractionFailed

log = logging.getLogger(__name__)

# Waits between attempts; three attempts in all. A Retry-After from a 429 is honoured up to the cap.
RETRY_DELAYS = (0.5, 2.0)
RETRY_AFTER_CAP = 10.0
MAX_TRANSCRIPT_CHARS = 60_000

_TYPE_HINTS = {
    "string": "a short string",
    "boolean": "true or false",
    "number": "a JSON number",
    "integer": "a JSON integer",
    "date": "a date as YYYY-MM-DD",
    "datetime": "an ISO 8601 date-time with UTC offset",
    "email": "an email address",
    "phone": "a phone number in E.164 (+15551234567)",
    "time": 'a time of day as "HH:MM" (24-hour)',
    "currency": 'an object {"amount": number, "currency": "ISO 4217 code such as USD"}',
    "duration": "a JSON integer number of seconds",
}


def _hint(spec) -> str:
    f = field(spec)
    if f.kind == "list":
        return "a JSON array of " + _hint(f.item)
    if f.kind == "enum":
        hint = "exactly one of " + json.dumps(list(f.values))
        said = "; ".join(f"{', '.join(words)} mean {json.dumps(option)}" for option, words in f.synonyms.items())
        return hint + (f" ({said})" if said else "")
    return _TYPE_HINTS.get(f.kind, describe(f))


def _line(name: str, spec) -> str:
    description = field(spec).description
    return f'- "{name}": {_hint(spec)}' + (f" — {description}" if description else "")


def build_messages(call, schema: dict) -> list[dict]:
    when = call_time(call)
    fields = "\n".join(_line(name, spec) for name, spec in schema.items())
    system = (
        "You extract structured data from the transcript of a phone call placed by an agent to a callee. "
        "Answer with one JSON object and nothing else. Its keys are exactly these fields:\n"
        f"{fields}\n"
        "Use null for a field the callee did not clearly answer. When the callee changed their mind, use "
        f"their final answer. The call took place on {when.strftime('%A %Y-%m-%d at %H:%M')} in the callee's "
        f"time zone, {getattr(when.tzinfo, 'key', 'UTC')} (UTC offset {when.strftime('%z') or '+0000'}); resolve relative dates such as 'tomorrow' or "
        "'next Tuesday' against it."
    )
    user = as_text(call.transcript)[:MAX_TRANSCRIPT_CHARS]
    if call.instructions:
        user = f"Agent instructions: {call.instructions[:2000]}\n\nTranscript:\n{user}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _endpoint() -> str:
    base = (settings.LLM_BASE_URL or "").rstrip("/")
    if not base:
        raise ExtractionFailed("not configured (set LLM_BASE_URL)")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


def _retry_after(response) -> float | None:
    try:
        return min(float(response.headers.get("retry-after", "")), RETRY_AFTER_CAP)
    except ValueError:
        return None


def complete(messages: list[dict]) -> str:
    """POST the chat completion with retries; answers the message content."""
    url = _endpoint()
    headers = {"Content-Type": "application/json"}
    if settings.LLM_API_KEY:
        headers["Authorization"] = f"Bearer {settings.LLM_API_KEY}"
    body = {"model": settings.LLM_MODEL, "messages": messages, "temperature": 0,
            "response_format": {"type": "json_object"}}
    attempts = len(RETRY_DELAYS) + 1
    last = ""
    for attempt in range(attempts):
        wait = RETRY_DELAYS[attempt] if attempt < len(RETRY_DELAYS) else None
        try:
            response = http.provider_request("POST", url, headers=headers, json=body,
                                             timeout=settings.LLM_TIMEOUT_SECONDS)
        except (http.OutboundTimeout, http.OutboundConnectError) as exc:
            last = f"timeout after {settings.LLM_TIMEOUT_SECONDS:g}s" if exc.kind == "timeout" else \
                f"connection error: {exc}"[:200]
        except http.OutboundError as exc:  # a bad URL or an oversized answer will not get better
            raise ExtractionFailed(f"request failed ({exc.kind}): {exc}"[:300])
        else:
            if response.status_code == 429 or response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                if response.status_code == 429 and wait is not None:
                    wait = _retry_after(response) or wait
            elif response.status_code >= 400:
                raise ExtractionFailed(f"the endpoint refused the request (HTTP {response.status_code})")
            else:
                try:
                    return response.json()["choices"][0]["message"]["content"] or ""
                except (ValueError, KeyError, IndexError, TypeError):
                    raise ExtractionFailed("unparseable output: not a chat-completions response")
        log.info("llm extraction attempt %d/%d failed: %s", attempt + 1, attempts, last)
        if wait is not None:
            time.sleep(wait)
    raise ExtractionFailed(f"the endpoint was unavailable after {attempts} attempts ({last})")


def parse_content(content: str) -> dict:
    text = content.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        raise ExtractionFailed("unparseable output: the model did not answer valid JSON")
    if not isinstance(data, dict):
        raise ExtractionFailed("unparseable output: the model answered JSON that is not an object")
    return data


def extract(call, schema: dict) -> dict:
    return parse_content(complete(build_messages(call, schema)))
