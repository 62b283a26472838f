"""An agent's restatement followed by a new question: the callee's reply answers the question.

"Seven thirty tomorrow, Sunday the 11th, is available. Any dietary requirements?" "My son has a
peanut allergy.": the reply is about diets, so the restated booking stands even though the reply
holds no yes; "so that's Thursday at 8:30. And is your insurance still Aetna?" "No, we switched"
turns down the insurance, not the time.
"""

from __future__ import annotations

import re

from callops.extraction import parsing, times_of_day
from callops.extraction.matching import Profile

_NO_PREFERENCE = re.compile(r"no_?pref|^any|either|whatever|flexible")


def _moments(p: Profile, text: str) -> list:
    if p.kind == "datetime":  # a datetime field holds a time of day, and its day
        return times_of_day.times_with_spans(text, p.evening) or parsing.dates_with_spans(text, p.when, p.past, p.region)
    return p.values(text)


def new_question_after(profiles: list[Profile], text: str) -> bool:
    """The turn restates a time and ends on a question of its own that holds no value."""
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", text.strip()) if x]
    if len(sentences) < 2 or not sentences[-1].rstrip().endswith("?"):
        return False
    # "Any dietary requirements?" reads as "no preference" for a seating enum; a question's "any" restates nothing.
    if any(v for p in profiles if p.kind not in ("boolean", "string", "list")
           for _, v in p.values(sentences[-1]) if not (p.kind == "enum" and _NO_PREFERENCE.search(str(v)))):
        return False
    return any(p.kind in ("time", "datetime") and _moments(p, text) for p in profiles)
