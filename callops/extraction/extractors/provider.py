"""Use what the provider already extracted, mapped onto the `returns` schema.

`call.provider_result` holds the provider's own extraction as the adapter stored it: Bolna
`extracted_data`, Dograh `gathered_context`, Trillet's analysed data or result metadata,
CallingBox `result`. Adapters may store the bare object or the response around it; both work.
Keys match schema fields case-insensitively, ignoring `_`, `-` and spaces (`schema.coerce`).
"""

from __future__ import annotations

from . import ExtractionFailed

# Where each provider keeps its extraction inside a run/execution object, innermost last so a
# nested value wins over a same-named top-level one.
CONTAINERS = ("extracted_data", "gathered_context", "analyzedData", "analyzed_data", "result", "metadata",
              "data", "variables", "custom_analysis_data")


def flatten(provider_result) -> dict:
    if not isinstance(provider_result, dict):
        return {}
    merged: dict = {}
    merged.update({k: v for k, v in provider_result.items() if k not in CONTAINERS})
    for key in CONTAINERS:
        inner = provider_result.get(key)
        if isinstance(inner, dict):
            merged.update(flatten(inner))
    return merged


def extract(call, schema: dict) -> dict:
    data = flatten(call.provider_result)
    if not data:
        raise ExtractionFailed("the provider returned no extracted data for this call")
    return data
