"""A reference the agent reads out and the callee goes along with.

"calling about invoice twenty-one fourteen" gives the invoice number "2114" when the callee never
says it themselves: like an amount the agent states and the callee accepts, it is the answer.
Only the noun the field is named for ("invoice" for invoice_number) followed by digits counts,
so a field the agent never reads a number for stays empty.
"""

from __future__ import annotations

import re

from callops.extraction import parsing

# The generic part of a field's name: what kind of reference, not which one.
_GENERIC = {"number", "num", "no", "code", "id", "ref", "reference", "current", "existing", "the", "your"}
_LABEL = r"(?:\s+(?:number|no|num|code|id|reference|ref))?(?:\s+(?:is|was|of))?\s*#?\s*"


def _nouns(name: str) -> list[str]:
    return [w for w in name.lower().split("_") if w and w not in _GENERIC and len(w) > 1]


def reference_field(name: str) -> bool:
    """invoice_number, policy_no, order_id: a field named for a reference that has digits."""
    words = name.lower().split("_")
    return bool(_nouns(name)) and bool({"number", "num", "no", "id", "reference", "ref"} & set(words))


def stated(name: str, agent_text: str) -> str | None:
    """The digits the agent says right after the field's noun, joined: "invoice 21 14" is "2114"."""
    nouns = _nouns(name)
    if not nouns:
        return None
    text = parsing.digits(agent_text, pairs="")
    found = None
    for m in re.finditer(rf"\b(?:{'|'.join(map(re.escape, nouns))}){_LABEL}((?:\d+[\s-]?)+)\b", text):
        value = re.sub(r"\D", "", m.group(1))
        if len(value) >= 3:  # "invoice 2" is a count or an ordinal, not a reference
            found = value
    return found


def fill(conv) -> None:
    """A reference field nobody answered takes the last reference the agent read out for it."""
    for p in conv.profiles:
        if p.kind != "string" or not reference_field(p.name) or any(c.value is not None for c in conv.cands[p.name]):
            continue
        for i in range(len(conv.turns) - 1, -1, -1):
            role, text = conv.turns[i]
            value = stated(p.name, text) if role == "agent" else None
            if value:
                conv.add(p, value, i, 0.3)
                break
