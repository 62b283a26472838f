"""Head counts said in parts: "two boys and a girl" is three children, "me plus three" four people."""

from __future__ import annotations

import re

_CHILD = r"(?:boys?|girls?|sons?|daughters?)"


def children_in_parts(text: str) -> int | None:
    """The sum when the children are counted in two or more parts; None otherwise."""
    parts = [1 if p in ("a", "an", "one") else int(p) for p in re.findall(rf"\b(\d+|an?|one) (?:\w+ )?{_CHILD}\b", text)]
    parts += [2] * len(re.findall(r"\b(?:a|the|our|my) (?:set of )?twins\b", text))  # "the twins and a boy"
    return sum(parts) if len(parts) >= 2 else None


# The callee and a bare number of others: "me plus three", "myself and two more".
_SELF_PLUS = re.compile(r"^\W*(?:(?:um+|uh+|well|so|it'?s|its|there'?s|theres)\W+)*(?:just )?(?:me|myself) (?:plus|and|\+) "
                        r"(\d+)(?: (?:others?|more|people|guests|friends|of them))?\W*$")


def self_plus(text: str) -> int | None:
    """The callee plus a number of others said without naming them (text in digit form); None otherwise."""
    m = _SELF_PLUS.match(text)
    return int(m.group(1)) + 1 if m else None
