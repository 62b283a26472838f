"""The extractors that turn a completed call into raw values for its `returns` fields.

Each module exposes `extract(call, schema) -> dict` (field -> raw value; `schema.coerce` types
them afterwards) and raises `ExtractionFailed` when it cannot produce anything usable.
"""

from __future__ import annotations

import importlib

KINDS = ("rules", "llm", "provider")


class ExtractionFailed(Exception):
    """The extractor produced nothing usable; the message becomes the call's result_error."""


def get(kind: str):
    if kind not in KINDS:
        raise ExtractionFailed(f"unknown extractor {kind!r} (expected one of {', '.join(KINDS)})")
    return importlib.import_module(f"{__name__}.{kind}")
