"""Text PostgreSQL can store: it refuses U+0000 in text and JSON columns, so input is checked for it."""

from typing import Any


def has_nul(value: Any) -> bool:
    """Whether a string, or any key or string inside a JSON-like value, contains U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False
