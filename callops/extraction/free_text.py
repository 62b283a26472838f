"""Free-text answers: the minimal answer a person would record from a whole reply.

"um, it was, uh, tomas? something like that" is "tomas", "oh no i cant wednesday i have jury duty"
gives the reason "jury duty", "one oh zero two three" is the code "10023", "my brother rahul will
take it" names "rahul". No library reads replies this way; the patterns here are general and name
no particular conversation.
"""

from __future__ import annotations

import re

from callops.extraction import answers, parsing
from callops.extraction.matching import (
    _STOPWORDS,
    OCCASION,
    OPT_OUT,
    REASON_WORDS,
    RELATION,
    Profile,
    _words,
    is_name_field,
    stems,
)

_JUNK = re.compile(r"^(?:(?:no|nope|nah),? (?:that'?s it|thats it|that'?s all|thats all|nothing(?: else)?|i'?m good|all good)|"
                   r"sorry|no|non|nope|mate|yes|yeah|ok|okay|sure|hmm+|um+|uh+|ugh|hey|hi|hello|nothing|none|n/?a|"
                   r"actually|honestly|really|definitely|please|thanks|thank you|"
                   r"not really|that's it|thats it|that's all|(?:which|that|and|but|so)\s.*)$")
_ROLE = (r"(?:assistant|vp|boss|manager|wife|husband|son|daughter|partner|colleague|friend|brother|sister|mum|mom|dad|"
         r"cell|mobile|phone|number|line|cfo|ceo|md|neighbou?r|cousin|uncle|aunt|mother|father|nephew|niece|foreman|"
         r"supervisor|receptionist|secretary|coworker|flatmate|roommate|guy|driver|husband's|wife's|office)")
# Words that follow a role and are not a name ("my brother will take it").
_NOT_NAME = _STOPWORDS | {"will", "can", "is", "does", "should", "would", "has", "usually", "normally", "takes", "gets",
                          "handles", "signs", "deals", "knows", "lives", "works", "said", "says", "too", "also",
                          "instead", "though", "actually", "please", "again", "there", "here", "now", "then"}
_NAMED = (re.compile(rf"\b(?:my|our|his|her|the)\s+(?:\w+'s\s+)?(?:\w+\s+)?{_ROLE}(?:'s)?(?:\s+{_ROLE})?,?\s+([a-z]+)\b"),
          re.compile(r"\b(?:ask for|speak to|speak with|talk to|named|called|name is|name's)\s+"
                     r"(?:(?:big|little|old|young|mr|mrs|ms|miss|dr|doctor)\.?\s+)?([a-z]+)\b"))
_HEDGE_WORDS = re.compile(r"^(?:ideally|hopefully|roughly|approximately|around|about|mostly|definitely|i'd say|"
                          r"i would say|hey|hi|hello|sorry|look|listen|honestly|well|oh|ah)[,\s]+", re.I)
_STATE = re.compile(r"^(?:i'?m|im|i am|we'?re|we are|i'?ll be|we'?ll be|i was|we were|because|cause|since|as|i have|"
                    r"i'?ve got|i got|we have|we'?ve got)\s+(.+)$", re.I)
# "moving to Brisbane for work in December": when it happens is not the reason.
_WHEN_TAIL = re.compile(r"\s+(?:in|by|from|next|this|on|at the end of)\s+(?:the\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|"
                        r"nov|dec|mon|tue|wed|thu|fri|sat|sun|week|month|year|summer|spring|autumn|fall|winter)\w*"
                        r"(?:\s+\w+)?$", re.I)
_RELATIVE = re.compile(r"^(.{3,40}?)\s+(?:that|which|who)\s+\w+", re.I)



def named_person(text: str) -> str | None:
    """The name said beside a role: "my brother rahul will take it", "call my wife's cell, maria"."""
    t = answers.norm(text)
    for pattern in _NAMED:  # each on its own: "ask for my husband declan" holds both
        for m in pattern.finditer(t):
            name = m.group(1)
            if name not in _NOT_NAME and not re.fullmatch(_ROLE, name) and len(name) > 1:
                return name
    return None


def _finish(profile: Profile, text: str, reason: bool) -> str | None:
    """The minimal answer: lead-ins, hedges, possessives and trailing explanation taken off."""
    for _ in range(2):
        text = answers.clean_string(_HEDGE_WORDS.sub("", text or "")) or ""
    if reason:
        m = _STATE.match(text)  # "I'm driving", "because the ATM was broken"
        if m and len(m.group(1).split()) <= 9:
            text = _WHEN_TAIL.sub("", m.group(1))
    m = re.match(r"^(?:we use|we have|we've got|we're using|we are using|we go with|we went with|it's|it is|"
                 r"we're with|we are with)\s+(.+)$", text, re.I)
    if m:
        head = _RELATIVE.match(m.group(1))
        if head and len(head.group(1).split()) <= 4:  # "we use a mobile canner that comes out monthly"
            text = re.sub(r"^(?:a|an|the)\s+", "", head.group(1), flags=re.I)
        else:
            text = m.group(1)
    text = re.sub(r"^(?:by|in|around|before|from|until|after|on|early|late|mid)[\s-]+(?=(?:jan|feb|mar|apr|may|jun|jul|aug|"
                  r"sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)\w*$)", "", text, flags=re.I)  # "by June"
    if len(text.split()) <= 6:  # "my doctor cancelled the order"; articles stay ("the downtown office")
        text = re.sub(r"^(?:my|our)\s+", "", text, flags=re.I)
    text = text.strip(" .,!?")
    if not text or _JUNK.match(text.lower()):
        return None
    return text


def string_answer(profile: Profile, reply: str) -> str | None:
    first_sentence = re.split(r"[.;!?]", answers.norm(reply).strip(" .,"), maxsplit=1)[0]
    if answers.is_refusal(first_sentence) or re.search(r"\b(?:don'?t have (?:it|that|one)|didn'?t catch|have to (?:find|look)|"
                                                       r"not handy|can'?t find|no idea|no clue|not in front of me|not interested)\b",
                                                       first_sentence):
        return None
    reason = bool(profile.words_all & REASON_WORDS)
    if reason:
        reply = _after_decision(reply)
    text = answers.clean_string(reply)
    if not text or _JUNK.match(text.lower().strip(" .!?")):
        return None
    if is_name_field(profile):
        # "that'd be my vp, marcus", "my assistant dana": the name, not the role.
        named = named_person(text)
        if named:
            return named
        text = re.sub(rf"\b(?:my|our|his|her|the)\s+(?:\w+'s\s+)?(?:\w+\s+)?{_ROLE}\b,?\s*",
                      "", text, flags=re.I).strip(" ,.") or text
        text = answers.clean_string(text) or text
    if profile.words_all & stems({"occasion", "celebrate", "celebrating", "celebration"}):
        m = OCCASION.search(answers.norm(reply))
        if m:
            return m.group(0)
    if profile.words_all & stems({"relationship", "relation", "relate", "related"}):
        m = RELATION.search(answers.norm(reply))
        if m:
            return m.group(1) or m.group(2)
    # The first sentence holds the answer; what follows explains it.
    first = re.split(r"(?<=[.!?])\s+", text)[0].strip(" .,!?")
    raw = re.split(r",\s*", first)
    finished = [_finish(profile, p, reason) for p in raw]
    parts = [p for p in finished if p]
    if not parts:
        return None
    first = parts[0]
    if len(parts) > 1:
        scored = [(len((profile.name_words | profile.desc_words) & _words(p)), -i, p) for i, p in enumerate(parts)]
        best = max(scored)
        # Else the shortest, unless the reply opens with the answer and explains it after
        # ("just the waiting room coffee, it was cold").
        opener = parts[0] if len(raw) == 2 and finished[0] and not re.match(
            r"(?:i|i'?m|i'?ve|we|we'?re|it|it'?s|that|this|he|she|they|there)\b", raw[0], re.I) and re.match(
            r"(?:it|that|this|they|he|she) (?:was|is|were|are|'s)\b", raw[1], re.I) else None
        first = best[2] if best[0] > 0 else opener or min(parts, key=lambda p: (len(p.split()) > 4, len(p)))
    if re.search(r"\b(?:code|number|zip|pin|id|reference|account|postcode)\b", f"{profile.name} "
                 f"{profile.spec.description}".replace("_", " ").lower()):
        # "one oh zero two three": "oh" among digits is a zero
        first = _oh_as_zero(first)
        first = re.sub(r"\b(\d) (?=\d\b)", r"\1", parsing.digits(first, pairs=False))
        if not re.search(r"\d", first):
            return None  # a number, code or id has digits; "same number, yes" is not one
    return _finish(profile, first, reason)


_DECISION = re.compile(r"^\W*(?:oh |um |uh |well )?(?:no|nope|nah|yes|yeah|sorry|unfortunately)?[,\s]*(?:i|we) (?:can'?t|cant|cannot|"
                       r"won'?t|wont|couldn'?t|can not)(?: make it| do it| come| make)?(?: \w+day| that| then| tomorrow| today)?"
                       r"[,.\s]+(?=(?:because|cause|since|as|i have|i'?ve got|i got|i'?m|we'?re|we have|my|our)\b)")


def _after_decision(reply: str) -> str:
    """"oh no i cant wednesday i have jury duty": for a reason, what follows the refusal."""
    m = _DECISION.match(answers.norm(reply)) or re.match(
        r"^\W*(?:no|nope|not really|not now|not right now|not a good time)[,.\s]+(?=(?:i'?m|im|we'?re|were)\b)",
        answers.norm(reply))  # "not really im driving"
    return answers.norm(reply)[m.end():] if m else reply


_DIGIT_WORD = re.compile(r"^(?:\d+|zero|oh|o|one|two|three|four|five|six|seven|eight|nine)$")


def _oh_as_zero(text: str) -> str:
    words = text.split(" ")
    return " ".join("zero" if w.lower() in ("oh", "o") and any(
        0 <= k < len(words) and _DIGIT_WORD.match(words[k].lower().strip(",.")) for k in (i - 1, i + 1)) else w
        for i, w in enumerate(words))




def intent_only(sentence: str) -> bool:
    t = answers.norm(sentence)
    return bool(OPT_OUT.search(t)) or bool(re.match(r"^\W*(?:hey|hi|hello|sorry|thanks|thank you|okay|ok)\W*$", t))


def string_items(text: str) -> list[str]:
    items = []
    for part in answers.split_list(re.sub(r"(?<=\w)[.!?]\s+", ", ", re.split(r"\s+but\s+", text)[0])):
        if re.match(r"(?:i|i'?ve|i'?m|we|we'?ve|we'?re|it|it'?s|that|this|he|she|they|there|you)\b", part, re.I):
            continue
        # "portuguese is my native", "decent spanish": the item, not what is said about it
        part = re.sub(r"\s+(?:is|are|was|were)\s+.*$", "", part, flags=re.I)
        cleaned = answers.clean_string(re.sub(r"^(?:mostly|some|a bit of|a little|also|plus|and|decent|basic|fluent|"
                                              r"conversational|native|good|some basic|a little bit of)\s+", "", part,
                                              flags=re.I))
        if cleaned and re.fullmatch(r"(?:no|nope|nah|none|nothing|not really)(?:\W+(?:none|nothing|thanks))*", cleaned, re.I):
            continue  # "no none"
        if cleaned:  # "the risotto", "a tiramisu to share": the thing itself
            cleaned = re.sub(r"\s+(?:to share|for the table|for me|for him|for her|for us|for the kids|please)$", "",
                             re.sub(r"^(?:a|an|the|some|one|two)\s+", "", cleaned, flags=re.I), flags=re.I)
        if cleaned and not answers.is_refusal(cleaned) and len(cleaned.split()) <= 4:
            items.append(cleaned)
    return items
