"""Questions no field's words reach ("What stood out for you?", "is that okay", "Could you ask her
to call us back?"), tied to fields by order.

A `returns` schema is usually written in the order the script asks, so a field left unanswered
between two answered fields is most likely asked by an unclaimed question between their answers.
Read after every other pass, only for fields with no answer from a question, and only where the
question's form fits the field's type: a yes/no question for a yes/no field, any question whose
reply the field's own parser accepts for the rest.
"""

from __future__ import annotations

import re

from callops.extraction.matching import CLOSING, asks_yes_no, last_sentence

# Strength of an answer tied by order: below a question that names the field, above what is said
# in passing.
STRENGTH = 0.7
# Asked about the call itself, not about any field ("Is now a good time?", "Am I speaking with Anna?",
# "Can I ask you a quick question?").
_ABOUT_THE_CALL = re.compile(r"\b(?:good time|a (?:quick )?(?:moment|minute|second)|speak(?:ing)? (?:to|with)|is this|"
                             r"am i|talking to|still there|hear me|ask you|(?:a|one|quick|few|couple of|some) (?:quick )?questions?)\b")
_WH = re.compile(r"\b(?:what|when|where|which|who|whom|how|why)\b")


def _asks(text: str) -> bool:
    last = last_sentence(text)
    return text.rstrip().endswith("?") or asks_yes_no(text) or bool(_WH.search(last))


def _answered(conv, name: str, floor: float) -> list[int]:
    """Where the field's chosen answer was said (a weaker reading elsewhere does not bound the gap)."""
    chosen = conv._choose(conv.cands[name])
    return [chosen.turn] if chosen is not None and chosen.value not in (None, []) and chosen.confidence >= floor else []


def _free(conv, topic: dict[str, float], i: int) -> bool:
    """No field claims the question, or each field it brushed was answered more plainly elsewhere
    ("where are you working at the moment" brushing "can work weekends", asked later)."""
    for name, strength in topic.items():
        chosen = conv._choose(conv.cands[name])
        if chosen is None or chosen.turn == i + 1 or chosen.confidence <= strength:
            return False
    return True


def tie_by_order(conv, topics: list[dict[str, float]], floor: float) -> None:
    """Answers unclaimed questions for the fields still open, in schema order within each gap."""
    profiles = conv.profiles
    anchors = {p.name: _answered(conv, p.name, floor) for p in profiles}
    # A field with a value, or one a question left null, is settled; a yes/no said only in passing
    # ("this is her husband" read as a no) stays open.
    asked = {p.name for p in profiles if any(c.confidence >= floor for c in conv.cands[p.name])
             or (p.kind != "boolean" and any(c.value not in (None, []) for c in conv.cands[p.name]))}
    questions = [i for i, (role, text) in enumerate(conv.turns)
                 if role == "agent" and _free(conv, topics[i], i) and i + 1 < len(conv.turns) and conv.turns[i + 1][0] == "user"
                 and _asks(text) and not CLOSING.search(text.lower()) and not _ABOUT_THE_CALL.search(text.lower())]
    used: set[int] = set()
    for k, p in enumerate(profiles):
        if p.name in asked or not questions:
            continue
        before = [t for q in profiles[:k] for t in anchors[q.name]]
        after = [t for q in profiles[k + 1:] for t in anchors[q.name]]
        low, high = max(before, default=-1), min(after, default=len(conv.turns))
        for i in questions:
            if i in used or not low < i + 1 < high:
                continue
            question, reply = conv.turns[i][1], conv.turns[i + 1][1]
            yes_no = asks_yes_no(last_sentence(question))
            # "Was there anything that wasn't right?" asks for the thing as much as for a yes or no.
            if p.kind == "boolean" and not yes_no or p.kind != "boolean" and yes_no and not re.search(
                    r"\bany(?:thing|one|body|where)?\b", last_sentence(question)):
                continue
            count = len(conv.cands[p.name])
            conv._answer([(p, STRENGTH)], i + 1, reply, question)
            fresh = conv.cands[p.name][count:]
            if any(c.value not in (None, []) for c in fresh):
                used.add(i)
                anchors[p.name] = [i + 1]
                break
            del conv.cands[p.name][count:]  # the reply does not fit this field: the question stays free
