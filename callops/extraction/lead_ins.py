"""What a callee says before a free-text answer and is not part of it.

"the main reason was honestly the price", "my biggest complaint is the engineer turned up late",
"id prefer something on a higher floor", "what could you improve um id say the parking": the
answer follows a frame that names what kind of answer it is (a reason, a complaint, a
preference) or repeats the question. The frame goes; the span after it is the answer.
"""

from __future__ import annotations

import re

_FILLERS = r"(?:(?:um+|uh+|er+m?|oh|ah|yeah|yes|yep|well|so|okay|ok|hmm+|honestly|look|right)[,.\s]+)*"
_KIND = (r"(?:reason|complaint|issue|problem|concern|gripe|preference|suggestion|thing|worry|priority|request|"
         r"feedback|frustration|question|goal)")
_BE = r"(?:is|was|would be|would have to be|'?d be|will be|has been|i'?d say is|i guess is|i think is|for me is|'s|s)"
_FRAMES = re.compile(
    rf"^{_FILLERS}(?:"
    # "the main reason was", "my biggest complaint is that", "the only thing i'd say is"
    rf"(?:the|my|our|one|the one|the other)\s+(?:(?:main|biggest|big|only|real|major|other|first|number one|key|"
    rf"top|one|main)\s+)*{_KIND}(?:\s+(?:i'?d say|i have|i had|we have|we had|for me|really|honestly|i guess|why))*\s+"
    rf"{_BE}(?:\s+that)?"
    # "what i'd prefer is", "what we really need is"
    r"|what (?:i|we)(?:'?d| would)? (?:really )?(?:prefer|like|want|need|love)(?: most)? (?:is|would be)"
    # "what i liked most was", "the best part was", "the worst bit about it was"
    r"|what (?:i|we) (?:really )?(?:liked|loved|enjoyed|hated|disliked|didn'?t like|did not like|want|need|wanted|needed)"
    r"(?: most| best| the most| least)? (?:was|is|were)"
    r"|the (?:best|worst|nicest|hardest|main|only) (?:part|thing|bit)(?: about (?:it|that|the \w+))?(?: for me)? (?:was|is|were)"
    # "i'd have to say", "i wanna say", "if i had to pick one i'd say", "for me it's"
    r"|(?:if i had to (?:pick|choose|say)(?: one)?,? )?(?:i'?d|i would) have to say|i (?:wanna|want to) say|for me,? (?:it'?s|its|it is|it would be|it'?d be)"
    # "could we get a table by the window": the request, not its asking
    r"|(?:could|can|may) (?:we|i) (?:possibly |please )?(?:get|have)(?= (?:a|an|the|some|one)\b)"
    # "i'd prefer", "i would like", "i'd rather have", followed by the thing, not by "to"
    r"|(?:i|we)(?:'?d| would)? (?:really )?(?:prefer|rather have|like|love)(?= (?!to\b|it\b|that\b|you\b|if\b)\w)"
    r")[,\s]+", re.I)
_SAY = re.compile(rf"^{_FILLERS}(?:i'?d say|i would say|i guess|i think|i suppose|probably|maybe)[,\s]+", re.I)
_WORD = re.compile(r"[a-z0-9']+")


def _question_echo(reply: str, question: str) -> str:
    """"what could you improve um id say the parking": the question said back, then a filler or
    "i'd say", without punctuation between them."""
    asked = set(_WORD.findall(question.lower())) | {"you", "your", "i", "we", "my", "our"}
    words = list(_WORD.finditer(reply.lower()))
    k = 0
    while k < len(words) and words[k].group(0) in asked:
        k += 1
    if k < 3 or k == len(words):
        return reply
    rest = reply[words[k].start():]
    if re.match(r"(?:um+|uh+|er+m?|hmm+|well|let me think|i'?d say|i would say|i guess|i think|so)\b", rest, re.I):
        return rest
    return reply


def frame_removed(reply: str, question: str = "") -> str:
    """The reply without the frame that only announces its answer; unchanged when none is found or
    nothing would be left."""
    start = reply.strip()
    text = _question_echo(start, question) if question else start
    text = _FRAMES.sub("", text, count=1)
    if text == start:
        return reply
    # What is left may open on a hedge of its own: "... was honestly the price", "... um id say the parking"
    text = _SAY.sub("", re.sub(rf"^{_FILLERS}", "", text, flags=re.I), count=1)
    return text if text.strip(" .,!?") else reply


# Said after a choice and not part of it: "text is probably best for me", "mornings would be easier for us".
_JUDGED = re.compile(r"^(.{2,40}?)\s+(?:is|are|would be|'?d be|will be|works|work)\s+(?:probably |definitely |really |usually |much |"
                     r"always |just )*(?:best|better|easiest|easier|ideal|preferred|fine|good|great|perfect|simplest)?"
                     r"(?:\s+for (?:me|us|him|her|them))?\W*$", re.I)


def judged_removed(text: str) -> str:
    """The thing chosen, without what is said of it ("email works best for me": "email")."""
    m = _JUDGED.match(text.strip())
    if not m or not re.search(r"\b(?:best|better|easiest|easier|ideal|preferred|fine|good|great|perfect|simplest|works?)\b",
                              text[m.end(1):], re.I):
        return text
    head = m.group(1)
    # "the check in was a bit slow" judges nothing chosen; only a short head is the choice
    return head if len(head.split()) <= 4 and not re.search(r"\b(?:not|never|it|that|this|he|she|they)\b", head, re.I) else text
