"""Opt-out detection: the callee asked not to be called again, so the number is suppressed.

Only the callee's turns count (an agent saying "we won't call again" is no request), and a
negated phrase ("you can call me again", "no need to take me off your list") does not count.
"""

from __future__ import annotations

import re

# Each pattern is one way of asking; matched on lower-cased text with curly quotes straightened.
_ASKS = [
    r"\bstop (?:calling|phoning|ringing|contacting)\b",
    r"\b(?:remove|take|delete|drop|scratch) (?:me|my (?:number|name|details)|this number)"
    r" (?:off|from) (?:of )?(?:your|the|this)(?: \w+)? (?:list|database|records?|system)\b",
    r"\b(?:do not|don't|dont|never|please don't|quit) (?:ever )?(?:call|phone|ring|contact) "
    r"(?:me|us|this number|here)\b",
    r"\bdo not call\b",
    r"\bdo-not-call\b",
    r"\bput me on (?:your|the) (?:do not call|do-not-call|dnc) list\b",
    r"\bno more calls\b",
    r"\bunsubscribe me\b",
    r"\bopt(?: me)? out\b",
]
_ASK_RE = re.compile("|".join(f"(?:{p})" for p in _ASKS))
# Words before an ask that turn it around ("you don't need to take me off your list", "you can
# call me again", "I never said stop calling").
_NEGATORS = re.compile(
    r"\b(?:no need to|don't need to|do not need to|doesn't need to|not asking (?:you )?to|never said|"
    r"didn't say|did not say|no,? don't|not)\s+(?:\w+\s+){0,2}$")
_ALLOWS = re.compile(r"\b(?:you can|you may|feel free to|please do|go ahead and) (?:call|ring|phone) "
                     r"(?:me|us|back)\b")


def asks_not_to_be_called(text: str) -> bool:
    """True when this callee utterance asks not to be called again."""
    t = text.lower().replace("\u2019", "'")
    for m in _ASK_RE.finditer(t):
        before = t[max(0, m.start() - 40):m.start()]
        if _NEGATORS.search(before):
            continue
        return True
    return False


def opt_out_phrase(turns: list[tuple[str, str]]) -> str | None:
    """The first callee turn asking not to be called again, or None. `turns` are (role, text)
    with role "user" for the callee, as callops.extraction.transcript.turns returns them."""
    for role, text in turns:
        if role != "user" or _ALLOWS.search(text.lower()) and not _ASK_RE.search(text.lower()):
            continue
        if asks_not_to_be_called(text):
            return text
    return None
