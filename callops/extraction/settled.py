"""Answers the conversation settles without the usual question-and-answer shape.

- A yes/no the agent puts as a statement: the slot ("Your appointment is on Friday at 10.") or an
  offer ("We'd add a high chair to the table.") is accepted by approving of it ("friday's fine",
  "oh lovely thank you") and declined by "no thanks", "we don't need it". A bare "okay" only
  acknowledges and settles nothing.
- The agent sums up several values ("So that's a table for four at seven?") and the callee
  corrects one of them ("actually make it five"): the corrected value replaces the one of its
  kind, and the values not corrected stand as summed up.
"""

from __future__ import annotations

import re

from callops.extraction import answers, parsing
from callops.extraction.matching import asks_yes_no, assign, echo, kept, last_sentence, stems, unit_fit

_LEAD = r"^\W*(?:(?:oh|ah|um+|uh+|well|yeah|yes|ok|okay|right|that|that'?s|thats|it'?s|its|this|(?:the )?[a-z]+'?s|(?:the )?[a-z]+ is)[,.\s]+)*"
# Approval of what was just said, not an acknowledgement of having heard it.
_APPROVAL = re.compile(_LEAD + r"(?:really |very |just )?(?:lovely|perfect|great|brilliant|wonderful|fab|fabulous|fantastic|"
                       r"excellent|fine|good|grand|ideal|spot on|sounds (?:good|great|lovely|perfect|fine)|works(?: for me)?|"
                       r"suits me|that works|that'?d be (?:great|lovely|good|perfect|helpful))\b", re.I)
_DECLINE = re.compile(r"^\W*(?:(?:oh|ah|um+|uh+|well)[,.\s]+)*(?:no thanks|no thank you|no need|not needed|(?:no|nah)[,\s]+"
                      r"(?:we|i)(?:'re| are|'ll| will)? (?:don'?t|do not|won'?t|will not) need|(?:we|i) (?:don'?t|do not|won'?t) "
                      r"need (?:it|that|one|them)|we'?re (?:fine|ok|okay|good) without)\b", re.I)
_NEGATION = re.compile(r"\b(?:not|no|never|nope|nah)\b|n'?t\b", re.I)


def accepted(profile, reply: str) -> bool | None:
    """The yes or no to a statement: the field's own words in the reply, else approval or a decline."""
    said = echo(profile, reply)
    if said is not None:
        return said
    t = answers.norm(reply)
    if re.search(r"\b(?:but|except|only if|unless)\b", t):
        return None  # "fine but i cant do friday": a condition, read elsewhere
    first = re.split(r"[.!?;]", t, maxsplit=1)[0]
    if _DECLINE.match(t):
        return False
    if _APPROVAL.match(first) and not _NEGATION.search(first) and len(first.split()) <= 6:
        return True
    return None


# The callee corrects a summary: "actually make it five", "no, five", "make that one room".
_CORRECTS = re.compile(r"^\W*(?:(?:oh|ah|um+|uh+|sorry|well|wait)[,.\s]+)*(?:actually|no|nope|not quite|make it|make that|"
                       r"change (?:it|that) to|can (?:we|you) make it|could (?:we|you) make it)\b", re.I)
_TIME_CUE = re.compile(r"\b(?:at|o'?clock|am|pm|a\.m\.?|p\.m\.?|half past|quarter (?:past|to)|noon|midnight|thirty|fifteen|"
                       r"forty[- ]five)\b|\d:\d\d", re.I)
_COUNTS = ("integer", "number")


def corrected_summaries(conv) -> None:
    """For each summary the callee corrects, the corrected value and the rest as summed up, ranked
    just after whatever the reply itself gave."""
    for i, (role, text) in enumerate(conv.turns[:-1]):
        reply_role, reply = conv.turns[i + 1]
        if role != "agent" or reply_role != "user" or not _CORRECTS.match(answers.norm(reply)):
            continue
        summed = [p for p in conv.profiles if p.kind in _COUNTS + ("time",) and kept(text, p.values(text))]
        if len(summed) < 2:
            continue  # one value said back and corrected is read as any answer is
        counts = [p for p in summed if p.kind in _COUNTS]
        times = [p for p in summed if p.kind == "time"]
        target = times if _TIME_CUE.search(parsing.digits(reply)) else counts
        if not target:
            continue
        said_back = assign(counts, text) if counts else {}
        new = assign(target, reply)
        # With several counts, only the one whose noun the reply names ("make it one room"), unless one
        # count alone was summed up.
        fits = {p.name: [v for pos, v in new[p.name] if unit_fit(p, reply, pos) > 0 or p.near(reply, pos) > 0]
                for p in target}
        corrected = [p for p in target if fits[p.name]] or ([target[0]] if len(target) == 1 and new[target[0].name] else [])
        if not corrected:
            continue
        for p in summed:
            if p in corrected:
                value = (fits[p.name] or [v for _, v in new[p.name]])[0]
            elif p.kind == "time":
                value = kept(text, p.values(text))[-1][1]
            elif said_back.get(p.name):
                value = said_back[p.name][0][1]
            else:
                continue
            conv.add(p, value, i + 1, 1.0)
            conv.cands[p.name][-1].order += 0.5


# A field about attending or keeping a booking, and a statement that says the booking's slot.
_ATTEND = stems({"attend", "come", "confirm", "confirmed", "keep", "still", "show"})
_SLOT = re.compile(r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|tomorrow|today|tonight)\b|\b\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m|p\.m)|"
                   r"o'?clock|\bat (?:\d|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon)\b")


def _asks(text: str) -> bool:
    return text.rstrip().endswith("?") or asks_yes_no(text) or bool(
        re.search(r"\b(?:what|when|where|which|who|how|why)\b", last_sentence(text)))


def approval(conv, profile, reply: str) -> bool | None:
    """The reply to a statement, for a field no earlier answer settled: approving a new slot after
    "no, I can't do Monday" is not keeping the first one."""
    if any(c.value is not None for c in conv.cands[profile.name]):
        return echo(profile, reply)
    return accepted(profile, reply)


def statements_accepted(conv) -> None:
    """A yes/no field no question settled: the statement nearest it that the callee approves or
    declines ("We'd also switch you to paperless bills." "perfect")."""
    for p in conv.profiles:
        if p.kind != "boolean" or any(c.value is not None for c in conv.cands[p.name]):
            continue
        for i, (role, text) in enumerate(conv.turns[:-1]):
            if role != "agent" or conv.turns[i + 1][0] != "user" or _asks(text):
                continue
            mine = p.relevance(text)
            if mine < 0.5 and p.words_all & _ATTEND and _SLOT.search(answers.norm(text)):
                mine = 0.5  # "it's friday the twenty ninth at three forty." "friday's fine": the slot is kept
            if mine < 0.5 or mine < max(q.relevance(text) for q in conv.profiles if q.kind == "boolean") - 1e-9:
                continue
            value = accepted(p, conv.turns[i + 1][1])
            if value is not None:
                conv.add(p, value, i + 1, 0.5)
