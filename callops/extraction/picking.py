"""Which of several dates or times in one turn a field takes, when no correction settles it.

"We can do six thirty to eight tonight": a start-like field (window_start, earliest_time) takes the
first end of the range, not the last value said. "Three nights, checking in Thursday and out on
Sunday": the check-in date is the one said beside the field's own words.
"""

from __future__ import annotations

import re
from typing import Protocol

from .parsing import digits

# From the start of one value to the start of the next: "6:30 to ", "8 am - ", "nine and ".
_RANGE_GAP = re.compile(r"^[\w:.']+(?:\s[0-5]\d)?(?:\s?[ap]\.?\s?m\b\.?|\s+o'?clock)?\s*(?:to|till|til|until|through|thru|-|–|and)\s+$")


class _Field(Protocol):
    start_like: bool
    end_like: bool

    def near(self, text: str, position: int, span: int = 48) -> float: ...


def range_end(p: _Field, text: str, found: list, kind: str):
    """The end of a range "X to Y" the field names (start or end), or None when the values are no range."""
    if len(found) != 2 or not (p.start_like or p.end_like):
        return None
    form = digits(text, pairs="") if kind == "time" else digits(text)
    (first, a), (second, b) = found
    if not _RANGE_GAP.match(form[first:second]):
        return None
    if kind == "date" and re.search(r"\bbetween\s*$", form[max(0, first - 12):first]) is None and \
            not re.match(r"^\S+\s*(?:to|till|until|through|thru|-)\s", form[first:second]):
        return None  # "monday and friday" are two days, not a range of dates
    return a if p.start_like else b


def beside_own_words(p: _Field, text: str, found: list):
    """The one value said right beside the field's own words, or None when none or several are."""
    close = [(p.near(text, pos, span=16), value) for pos, value in found]
    best = max(score for score, _ in close)
    winners = [value for score, value in close if score == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


_AT_LEAST = re.compile(r"\b(?:at least|at a minimum|a minimum of|minimum(?: of)?|no less than|not less than|nothing (?:less|under) than)"
                       r"\s+(?:like\s+|about\s+)?[$£€₹]?\s?$")
_AT_MOST = re.compile(r"\b(?:at most|at the most|a maximum of|maximum(?: of)?|max|no more than|not more than|up to|tops)"
                      r"\s+(?:like\s+|about\s+)?[$£€₹]?\s?$")


def bound_marked(p: _Field, text: str, found: list, kind: str):
    """For a minimum or maximum field, the value said as one ("i'm at twenty one now, i'd want at least
    twenty three": 23 for min_hourly_rate); None when no value is marked so."""
    if not (p.start_like or p.end_like) or len(found) < 2:
        return None
    form = digits(text, pairs="money") if kind == "currency" else digits(text)
    mark = _AT_LEAST if p.start_like else _AT_MOST
    marked = [value for pos, value in found if mark.search(form[max(0, pos - 24):pos])]
    return marked[0] if marked else None
