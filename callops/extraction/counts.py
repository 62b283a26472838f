"""Counts said without a number: "once a week", "twice", "a month's notice", "about a year".

number-parser reads number words only; these are the counting words and the article before a
unit the field counts in (notice_period_months: "a month" is 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TIMES = {"once": 1, "twice": 2, "thrice": 3}
# "once" is a count when hedged ("maybe once"), alone, or before a period ("once a week"); not in
# "once I get home", "at once", "once again".
_COUNTED = re.compile(r"\b(?:(?P<hedge>just|only|maybe|exactly|about|around|roughly|at least|at most|probably)\s+)?"
                      r"(?P<word>once|twice|thrice)\b(?P<after>\s+(?:a|an|per|every|or|so far|before|in the last|this (?:week|month|year))\b|"
                      r"\s*(?:[,.!?;]|$))?")
_OCCURRENCE = ("per", "times", "often", "frequency", "visits", "sessions", "week", "month", "day")
_UNITS = {"day", "week", "month", "year", "night", "hour", "minute", "shift", "visit", "trip"}
_ARTICLE_UNIT = re.compile(r"\b(?:a|an|one) (?:single |full |whole )?([a-z]+?)(?:'?s)?\b(?! and a half)")


def said_in_words(t: str, own: set[str], stem: Callable[[str], str]) -> list[tuple[int, float]]:
    """(position in the digit form `t`, count) for counts said in words; `own` are the stems of the
    field's name words, so "a month" counts only for a field counted in months. Read only where the
    reply says no number ("i called twice about the 3 boxes" counts boxes)."""
    found: list[tuple[int, float]] = []  # typed as parsing.numbers_with_spans, which it extends
    # "once" and "twice" count occurrences: they answer a field counted per period or in times or visits.
    occurrences = bool(own & {stem(w) for w in _OCCURRENCE})
    for m in _COUNTED.finditer(t) if occurrences else ():
        if m.group("word") != "once" or m.group("hedge") or m.group("after") is not None:
            if not re.match(r"\s+(?:as|again|more|upon)\b", t[m.end("word"):]) and \
                    not re.search(r"\bat\s+$", t[:m.start()]):
                found.append((m.start("word"), _TIMES[m.group("word")]))
    for m in _ARTICLE_UNIT.finditer(t):
        unit = stem(m.group(1))
        # "$189 a night", "three times a week": a rate, not one of the unit.
        rate = re.search(r"(?:\d[\d,.]*|times|once|twice|thrice|dollars?|bucks|pounds?|euros?|rupees?)\s+$", t[:m.start()])
        if unit in _UNITS and unit in own and not rate:
            found.append((m.start(), 1))
    return found
