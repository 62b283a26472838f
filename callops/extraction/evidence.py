"""Where in the conversation each extracted value was said: the call's `result_evidence`.

Shape: {field: {"turn": index into the call's transcript turns, "text": that turn's text,
"confidence": 0..1}}, only for fields with a value. The rules extractor records its own; for
values another extractor produced (an LLM, the provider), `locate` finds the callee's turn whose
words hold the value, and a value it cannot find has no evidence rather than a guessed one.
"""

from __future__ import annotations

from .matching import Profile
from .schema import fields
from .transcript import turns as normalise

LOCATED_CONFIDENCE = 0.5  # found in the transcript, but not chosen there by our own reading
MAX_TEXT = 500


def _shown(item: dict) -> dict:
    return {"turn": int(item["turn"]), "text": str(item["text"])[:MAX_TEXT],
            "confidence": round(min(1.0, max(0.0, float(item["confidence"]))), 2)}


def keep(evidence: dict | None, result: dict | None) -> dict | None:
    """The evidence of the fields that kept a value after coercion, or None."""
    if not evidence or not result:
        return None
    kept = {name: _shown(item) for name, item in evidence.items() if result.get(name) is not None}
    return kept or None


def _matches(profile: Profile, text: str, value) -> bool:
    if profile.kind == "string":
        return str(value).casefold() in text.casefold()
    if profile.kind in ("boolean", "datetime", "list"):
        return False  # a yes, or a time built from two turns, is not one turn's words
    return any(found == value for _, found in profile.values(text))


def locate(transcript, schema: dict, result: dict, when, region: str = "US") -> dict:
    """Evidence for values that another extractor produced: the last callee turn that says them."""
    spoken = normalise(transcript)
    out = {}
    for name, spec in fields(schema).items():
        value = (result or {}).get(name)
        if value is None:
            continue
        profile = Profile(name, spec, region, when, evening=False)
        for index in range(len(spoken) - 1, -1, -1):
            role, text = spoken[index]
            if role == "user" and _matches(profile, text, value):
                out[name] = {"turn": index, "text": text, "confidence": LOCATED_CONFIDENCE}
                break
    return out
