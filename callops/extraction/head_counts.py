"""A count of children said as boys and girls, sons and daughters: "two boys and a girl" is three."""

from __future__ import annotations

import re

_CHILD = r"(?:boys?|girls?|sons?|daughters?)"


def children_in_parts(text: str) -> int | None:
    """The sum when the children are counted in two or more parts; None otherwise."""
    parts = [1 if p in ("a", "an", "one") else int(p) for p in re.findall(rf"\b(\d+|an?|one) (?:\w+ )?{_CHILD}\b", text)]
    parts += [2] * len(re.findall(r"\b(?:a|the|our|my) (?:set of )?twins\b", text))  # "the twins and a boy"
    return sum(parts) if len(parts) >= 2 else None
