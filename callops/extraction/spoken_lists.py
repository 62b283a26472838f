"""Items of a list said without commas, as speech-to-text gives it.

"the couch the bookshelf and um two lamps", "invoicing time tracking and expense reports", "live
chat reporting and a mobile app": the boundary between items is marked by nothing but a new
determiner or the shape of the words. Two shapes are read here, both general:
- a determiner ("the", "a", "two") that starts a new noun phrase, unless a preposition ties it
  to the words before ("the back of the house");
- an activity noun ending in -ing that stands alone as an item: first in a run of three or more
  words ("invoicing | time tracking"), or last after a two-word item ("live chat | reporting").
"""

from __future__ import annotations

import re

# Words after which a determiner continues the phrase rather than starting an item.
_TIES = {"of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "under", "over", "near", "behind",
         "like", "and", "or", "is", "are", "was", "were", "be", "than", "as", "about", "all", "both", "just", "only",
         "get", "have", "need", "want", "use", "take", "do", "move", "bring", "its", "it's", "that"}
# "a", "two", "some" are split on in free_text.string_items already; "the" is split on here, where the
# words before it are checked.
_DETERMINER = re.compile(r"\s+(?=the [a-z])", re.I)
# -ing words that are not activities on their own ("something", "morning") or that modify the next.
_NOT_ACTIVITY = {"something", "anything", "nothing", "everything", "morning", "evening", "thing", "king", "ring",
                 "spring", "string", "ceiling", "building", "during", "being", "ongoing", "upcoming", "living",
                 "dining", "sliding", "matching", "existing", "outstanding", "missing", "working", "leading"}


_OBJECT_START = {"the", "a", "an", "my", "our", "your", "their", "his", "her", "it", "them", "up", "out", "off", "down",
                 "in", "on", "of", "for", "to", "with", "at", "and", "or", "some", "all", "this", "that", "these", "those"}


def _activity(word: str) -> bool:
    w = word.lower()
    return len(w) > 5 and w.endswith("ing") and w not in _NOT_ACTIVITY


def determiners_split(body: str) -> str:
    """A comma before each determiner that opens a new item."""
    out, last = [], 0
    for m in _DETERMINER.finditer(body):
        before = re.findall(r"[a-z']+", body[:m.start()].lower())
        # "cleaning the windows": an -ing word takes "the" as its object
        if not before or before[-1] in _TIES or len(before[-1]) < 3 or before[-1].endswith("ing") or \
                body[:m.start()].rstrip().endswith(","):
            continue
        out.append(body[last:m.start()] + ",")
        last = m.start()
    out.append(body[last:])
    return "".join(out)


def run_on_items(item: str) -> list[str]:
    """One part of a list split where an activity noun stands as an item of its own."""
    words = item.split()
    # "cleaning the windows" is one item: the -ing word takes an object there.
    if len(words) >= 3 and _activity(words[0]) and not _activity(words[1]) and words[1].lower() not in _OBJECT_START:
        return [words[0]] + run_on_items(" ".join(words[1:]))
    if len(words) == 3 and _activity(words[-1]) and not _activity(words[-2]):
        return [" ".join(words[:-1]), words[-1]]
    return [item]


# A new statement run on after the last item: "comcast and verizon we ended up going with verizon".
_NEW_STATEMENT = re.compile(r"\s+(?:i|we|they|he|she)\s+(?:(?:just|then|finally|eventually|actually)\s+)?"
                            r"(?:[a-z]{3,}ed|went|got|chose|picked|took|signed|ended|think|thought)\b.*$", re.I)


_JOINERS = {"and", "or", "but", "so", "oh", "um", "uh", "yeah", "yes", "also", "plus", "then", "well"}


def statement_cut(part: str) -> str:
    """The item without a new statement run on after it by speech-to-text."""
    head = _NEW_STATEMENT.sub("", part)
    # "and i think": nothing is left but a joining word, so it is no item run on to a statement
    return head if set(re.findall(r"[a-z']+", head.lower())) - _JOINERS else part


def distinct(items: list[str]) -> list[str]:
    """Each item once: "salesforce ... salesforce was way too expensive" names it again and "penicillin,
    sulfa. sulfa drugs" says it again in full; neither is another item."""
    out: list[str] = []
    for item in items:
        key = item.casefold()
        if any(key == have.casefold() or (key.startswith(have.casefold() + " ") and len(key.split()) <= 2)
               for have in out):
            continue
        out.append(item)
    return out
