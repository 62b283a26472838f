"""A month said in passing fills a field that records a month.

"no, don't remove me. i give every year in december, call me then" answers "month the callee wants
to be contacted" though nobody asked for a month: the month named is the answer, as the callee says it.
"""

from __future__ import annotations

import re

from callops.extraction import answers

MONTH = re.compile(r"\b(january|february|march|april|may|june|july|august|september|october|november|december)\b")
# "may" is also a verb: a month only where it is named as one ("in may", "may the 3rd", "next may").
_VERB_MAY = re.compile(r"\bmay\b(?!\s*(?:the\s+)?(?:\d|first|second|third|\w+th\b|[.,!?]|$))")
_AS_MONTH = re.compile(r"\b(?:in|by|until|till|from|next|this|early|late|mid|end of|start of|around)\s+(?:-\s*)?may\b")


def month_field(profile) -> bool:
    return profile.kind == "string" and "month" in profile.name.lower().split("_")


def said_month(text: str) -> str | None:
    """The last month the text names: "not now, maybe in march or actually april" is "april"."""
    t = answers.norm(text)
    found = None
    for m in MONTH.finditer(t):
        if m.group(1) == "may" and _VERB_MAY.match(t, m.start()) and not _AS_MONTH.search(t[:m.end()]):
            continue
        found = m.group(1)
    return found


def fill(conv) -> None:
    """A month field nobody answered takes the last month the callee names."""
    for p in conv.profiles:
        if not month_field(p) or any(c.value is not None for c in conv.cands[p.name]):
            continue
        for i in range(len(conv.turns) - 1, -1, -1):
            role, text = conv.turns[i]
            month = said_month(text) if role == "user" else None
            if month:
                conv.add(p, month, i, 0.3)
                break
