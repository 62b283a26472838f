"""How a turn of the conversation is worded: whether the agent asks something, asks for more, or
introduces itself, and whether the callee adds to an earlier answer. The rules extractor reads the
turns through these."""

import re

from callops.extraction import answers
from callops.extraction.matching import asks_yes_no, last_sentence, stems

ELLIPTICAL = re.compile(r"^(?!.*\b(?:when|where|which|who|why)\b)(?!.*\bwhat (?!about))(?!.*\bhow (?!about))\W*(?:and|or|what about|how about)?\s*(?:by|via|on|for|with|over)?\s*(?:\w+\s*){1,2}\?$")
ASKS_MORE = re.compile(r"\b(?:anything|anyone|anybody|something|any) else\b|\bwhat else\b|\bany (?:others?|more)\b")
ADDED_ON = re.compile(r"^\W*(?:(?:oh|ah|um+|uh+|yes|yeah|actually|right)[,.\s]+)*(?:and|also|plus)\b|\b(?:too|as well|also)\W*"
                      r"(?:$|[,.!?])")
AGENT_INTRO = re.compile(r"\b(?:this is|i'?m|my name is)\s+(?:\w+\s+)?(?:the |an? |your )?(?:[\w'-]+\s+){0,3}?"
                         r"(?:assistant|agent|line|service|desk|team|department|bot)\s+(?:from|at|for|of|with)\s+"
                         r"(?:the\s+)?(?:[\w'&-]+\s+){0,3}?[\w'&-]+(?=[,.!?]|\s+(?:calling|here|about|regarding|to|with|and)\b|$)", re.I)


def asks(text: str) -> bool:
    """The turn asks something: a question mark, a yes/no form or a question word in its last sentence."""
    last = last_sentence(text)
    return text.rstrip().endswith("?") or asks_yes_no(text) or bool(
        re.search(r"\b(?:what|when|where|which|who|how|why)\b", last))


def words_of(text: str) -> set[str]:
    return stems(re.findall(r"[a-z0-9']+", text.lower()))


# "Would you still like to answer just one question?", "could you at least ...": the request asked again,
# smaller, after the callee turned aside from it.
_ASKED_AGAIN = re.compile(r"\b(?:still|at least|even just|just (?:one|a|a few|two|a couple)|maybe just|instead)\b")


def asks_again(text: str, reply_before: str) -> bool:
    """A yes/no that repeats the open question after a reply that gave no yes or no."""
    return asks_yes_no(text) and bool(_ASKED_AGAIN.search(last_sentence(text))) and not answers.bool_mentions(reply_before)


# "callee asked who was calling", "asked_if_bot": a field recording a question the callee asked.
_CALLEE_QUESTION = re.compile(r"\basked (?:whether|if|who|what|which|how|where|why|for (?:the|a|our|your) name)\b|^asked_"
                              r"(?:if|whether|who|what|company|name|for)")


def records_callee_question(name: str, description: str) -> bool:
    """The field records whether the callee asked something: their own question answers it, never
    their yes or no to one of the agent's."""
    return bool(_CALLEE_QUESTION.search(description.lower()) or _CALLEE_QUESTION.search(name.lower()))
