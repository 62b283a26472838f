"""A yes or no said without one: approving a choice, being willing, or naming what prevents it.

"friday morning works", "the 3pm is fine", "i could take a look i suppose" are yeses; "mornings
are hard for me", "i have work", "not till then", "don't bother" are noes. Read only when the
reply holds no yes/no word of its own.
"""

from __future__ import annotations

import re

_NEG = re.compile(r"\b(?:not|no|never|nope|nah)\b|n'?t\b|\bdont\b|\bcant\b|\bwont\b")
# "<a choice> works / is fine / suits me": the subject is short, the verdict approving.
_CHOICE_OK = re.compile(r"^\W*(?:(?:oh|um+|uh+|yeah|well|ok|okay)[,.\s]+)*(?:[a-z0-9']+\s+){1,4}?(?:works|work|would work|"
                        r"is fine|are fine|is good|are good|is perfect|is great|suits me|suits us|should work|is ok|is okay)\b")
_WILLING = re.compile(r"^\W*(?:(?:oh|um+|uh+|well|i mean|honestly)[,.\s]+)*(?:i|we) (?:could|might|may|would consider|'?d consider|"
                      r"'?d be open|would be open|'?m open|am open|'?re open) (?:to |give |take |have |try |do )")
_OBSTACLE = re.compile(r"\b(?:(?:is|are|'s|s) (?:really |a bit |quite |pretty )?(?:hard|tough|difficult|tricky|bad|no good|"
                       r"impossible) for (?:me|us)|(?:i|we) (?:have|'?ve got|got) (?:work|school|class|classes|a meeting|plans|"
                       r"an appointment|a shift)(?: then| that day| at that time)?\W*(?:actually)?\W*$|not (?:un)?till|"
                       r"not until|(?:don'?t|dont) bother|no need|not necessary|don'?t worry about it)\b")


# The state asked about still holds back ("still waiting on it", "its still dripping"), or an offer is
# turned down by keeping things as they are ("ill call them myself", "im happy with what ive got").
_STILL = re.compile(r"\bstill (?:waiting|dripping|leaking|broken|happening|down|missing|not|on hold|no sign|nothing|"
                    r"doing it|getting)\b|\b(?:leave it|give it a miss|sit (?:this|it) out|skip it|pass on it)"
                    r"(?: this (?:time|year|round)| for now)\b|\b(?:i'?ll|ill|i will|we'?ll|we will) \w+ (?:it|them|that|him|her) "
                    r"(?:myself|ourselves)\b|\b(?:i'?m|im|we'?re|were) (?:happy|fine|good|ok|okay) (?:with what (?:i|we)(?:'?ve| have)"
                    r"(?: got)?|as (?:i|we) (?:am|are)|as it is)\b|\b(?:we|i) (?:have |'?ve )?moved\b")
# A past action that answers "did it arrive?", "have you paid?": "it came yesterday", "i sent it".
_DONE = re.compile(r"^\W*(?:(?:oh|um+|uh+|yeah|well)[,.\s]+)*(?:(?:it|they|he|she) (?:came|arrived|turned up|showed up|got here|"
                   r"was delivered)|(?:i|we) (?:already )?(?:sent|paid|posted|mailed|transferred|submitted|signed|returned) "
                   r"(?:it|that|them|the \w+))\b")
_SO = re.compile(r"^\W*(?:(?:um+|uh+|well|yeah)[,.\s]+)*(?:i|we) (?:suppose|guess|reckon|believe|hope) so\b")


def implied(reply: str) -> bool | None:
    t = " ".join(reply.lower().split())
    first = re.split(r"[.!?;]|\b(?:but|unless|except)\b", t, maxsplit=1)[0]
    if _OBSTACLE.search(t) or _STILL.search(t):
        return False
    if _DONE.match(t) or _SO.match(t):
        return True
    if (_CHOICE_OK.match(first) or _WILLING.match(first)) and not _NEG.search(first):
        return True
    return None


# A field's quality and the words that say its contrary: "did the driver arrive on time?" "he was about
# an hour late"; "did your order arrive complete?" "everything but the drinks".
_CONTRARIES = [
    (re.compile(r"\bon[ _]time\b|\bpunctual"), re.compile(r"\blate\b|\bdelayed\b|\bbehind schedule\b")),
    (re.compile(r"\bcomplete\b|\bnothing (?:was )?missing\b|\beverything arrived\b"),
     re.compile(r"\bmissing\b|\b(?:everything|all) (?:but|except)\b|\bwas short\b|\bleft out\b")),
    (re.compile(r"\bpolite\b|\bfriendly\b|\bhelpful\b|\bcourteous\b"), re.compile(r"\brude\b|\bunfriendly\b|\bunhelpful\b")),
    (re.compile(r"\bclean\b|\btidy\b"), re.compile(r"\bdirty\b|\bmessy\b|\ba mess\b|\bfilthy\b")),
]


def contrary(field_text: str, reply: str) -> bool | None:
    """False when the reply says the contrary of the quality the field records."""
    field = field_text.lower().replace("_", " ")
    t = " ".join(reply.lower().split())
    for quality, opposite in _CONTRARIES:
        m = opposite.search(t)
        if quality.search(field) and m and not _NEG.search(t[max(0, m.start() - 12):m.start()]):
            return False
    return None
