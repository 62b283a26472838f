"""Head counts said as people: "two adults and three children" is five, "me and my husband" two.

A count is read this way for a field that counts people (a party, guests, attendees), or when the
question itself asks how many people ("How many of you are we seeing?" for patients).
"""

from __future__ import annotations

import re

from callops.extraction import answers, head_counts, parsing
from callops.extraction.matching import _KIN, _PART_FIELD, _TOTAL_FIELD, Profile, stems

_PERSONS = (r"(?:adults?|kids?|children|child|teens?|teenagers?|seniors?|little ones?|babies|baby|infants?|toddlers?|"
            r"boys?|girls?|men|women|grown ups?|grownups?)")


def people_total(p: Profile, text: str) -> int | None:
    """A head count said in parts: "two adults and three children" is five, for a total field."""
    if p.name_words & stems({"child", "children", "kid", "kids"}):
        return head_counts.children_in_parts(parsing.digits(text))  # "two boys and a girl"
    if not p.name_words & _TOTAL_FIELD and not (p.name_words & stems({"number", "count"}) and p.desc_words & _TOTAL_FIELD) \
            or p.name_words & _PART_FIELD:
        return None
    t = parsing.digits(text)
    if re.search(r"\b\d+ (?:of us|people|persons|guests|in total|total|all up|altogether)\b|\bparty of \d+|\bso \d+", t):
        return None  # the total is said
    parts = re.findall(rf"\b(\d+) (?:\w+ )?{_PERSONS}\b", t)
    # "two adults and the baby": a person said without a number is one
    singles = [] if not parts else re.findall(r"\b(?:the|a|an|our|my|one) (?:baby|toddler|little one|infant|child|kid|teen)\b", t)
    return sum(int(x) for x in parts) + len(singles) if len(parts) + len(singles) >= 2 else None


_HEAD_COUNT = _TOTAL_FIELD | stems({"household", "attendee", "attend", "join", "joining", "coming", "travel"})
# The callee counting themselves in a list: "just me", "me and my husband", "my wife and i".
_SELF = re.compile(r"\b(?:just|only|it'?s|its) (?:me|myself)\b|\b(?:me|myself),? and\b|\band (?:me|i|myself)\b|\bme,|"
                   r"^\W*(?:me|myself)\W*$|^\W*(?:(?:um+|uh+|well|so)\W+)?(?:me|myself)\s+(?=(?:my|our|and|plus)\b)")
_PAIRS = re.compile(r"\b(?:(?:my|our|his|her|their|the) )?(?:parents|grandparents|in-laws|in laws|twins)\b")
_ONE = re.compile(rf"\b(?:my|our|his|her|their) (?:\w+ )?{_KIN}\b")
_SOME = re.compile(r"\b(?:kids|children|colleagues|friends|coworkers|co-workers|guests|family|people|others)\b")


# "How many of you are we seeing?", "how many people?": the question counts people, whatever the
# field is called (patients, diners).
_ASKS_PEOPLE = re.compile(r"\bhow many (?:of (?:you|us|them)|people|persons|heads|in your (?:party|group|family))\b")


def people_listed(p: Profile, text: str, question: str = "") -> int | None:
    """A head count said as the people: "just me" is one, "me and my husband" two, "me, my wife, her
    parents and our two kids" six. None when a part has no number ("me and the kids")."""
    counts_people = p.words_all & _HEAD_COUNT or _ASKS_PEOPLE.search(question.lower())
    if p.item.kind != "integer" or not counts_people or p.name_words & _PART_FIELD or answers.is_refusal(text):
        return None
    t = parsing.digits(answers.norm(text))
    counted = [(m.start(), m.end(), int(m.group(1))) for m in re.finditer(rf"\b(\d+) (?:\w+ )?(?:{_PERSONS}|{_KIN}s?|colleagues|"
                                                                         r"friends|coworkers|guests|others)\b", t)]
    if (plus := head_counts.self_plus(t)) is not None:
        return plus  # "me plus three"
    if len(counted) != len(parsing.numbers_in(t)):
        return None  # a number that counts no one: the ordinary reading applies
    rest = t
    for start, end, _ in counted:
        rest = rest[:start] + " " * (end - start) + rest[end:]
    pairs = len(_PAIRS.findall(rest))
    rest = _PAIRS.sub(" ", rest)
    ones = len(_ONE.findall(rest)) + (1 if _SELF.search(_ONE.sub(" ", rest)) else 0)
    if _SOME.search(_ONE.sub(" ", rest)) or not (ones or pairs):
        return None
    total = ones + 2 * pairs + sum(n for _, _, n in counted)
    return total if total >= 1 else None
