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
