"""Times of day in spoken text, and a date with a time in the callee's zone.

"half past seven", "a quarter to nine", "half eight", "ten ish", "nine a m": dateparser reads
"7:30 pm" but not these spoken forms, nor finds a time inside a whole reply, so the spoken layer is
written here and dateparser resolves what it yields. Numbers go through `parsing.digits`
(number-parser underneath), dates through `parsing.parse_date` (dateparser).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache

import dateparser

from .parsing import digits, parse_date

# --- times of day ------------------------------------------------------------------------------
# Spoken forms ("half past seven", "eight thirty", "a quarter to nine", "nine a m") are turned
# into "H:MM am" here, which dateparser does not read; dateparser then resolves that form. A
# time without am/pm is read as people book things: 1-6 is afternoon, 7-11 morning, unless the
# words around say evening (`evening=True`, e.g. a dinner booking).

def _meridiem(k: int) -> str:
    return (rf"(?:\s*(?P<ap{k}>a\.?\s?m\b\.?|p\.?\s?m\b\.?)|\s+(?P<part{k}>in the morning|in the afternoon|"
            rf"in the evening|at night|tonight|this morning|this afternoon|this evening))?")


_TIME_RE = re.compile("|".join([
    r"\b(?P<noon>noon|midday|midnight)\b",
    # "ten to six" is a window more often than 5:50: "to" takes minutes only as "quarter"/"N minutes".
    rf"\b(?:(?P<half>half|quarter|\d{{1,2}})(?: minutes?)?\s+(?P<dir>past|after)|(?P<to>quarter|20|25|\d{{1,2}} minutes?)\s+"
    rf"(?:to|til|till))\s+(?P<h1>\d{{1,2}})\b{_meridiem(1)}",
    rf"\b(?P<h2>\d{{1,2}})(?::|\s)(?P<m2>[0-5]\d)(?!\d){_meridiem(2)}",
    rf"\b(?P<h3>\d{{1,2}})(?:\s*o'?\s?clock)?{_meridiem(3)}",
]))


@lru_cache(maxsize=4096)
def _clock(hour: int, minute: int, meridiem: str) -> tuple[int, int] | None:
    found = dateparser.parse(f"{hour}:{minute:02d} {meridiem}".strip(), languages=["en"])
    return (found.hour, found.minute) if found else None


# Words before a bare time that mark it as one: "say three", "like eight", "ten ish".
_LEAD = r"(?:^|\b(?:at|around|about|by|from|until|till|til|before|after|between|for|say|like|maybe|ideally|probably|"\
        r"call it|make it|um|uh)\s+)(?:(?:um|uh|like|about|around)\s+)?$"
_PART_BEFORE = re.compile(r"\b(morning|afternoon|evening|tonight|night)\b[^.?!\d]{0,20}$")


def times_with_spans(text: str, evening: bool = False) -> list[tuple[int, tuple[int, int]]]:
    # "half eight" is half past eight (British); not "half 8 hours".
    t = re.sub(r"\bhalf (\d{1,2})\b(?! (?:hours?|minutes?|days?|weeks?|dozen|percent|price|off|of)\b)", r"half past \1",
               digits(text, pairs=""))
    out = []
    for m in _TIME_RE.finditer(t):
        g = m.groupdict()
        if g["noon"]:
            out.append((m.start(), (0, 0) if g["noon"] == "midnight" else (12, 0)))
            continue
        k = next(i for i in (1, 2, 3) if g[f"h{i}"])
        hour, ap, part = int(g[f"h{k}"]), g[f"ap{k}"], g[f"part{k}"]
        minute = int(g["m2"]) if k == 2 else 0
        if k == 1:
            before = g["half"] or g["to"]
            minute = {"half": 30, "quarter": 15}.get(before) or int(before.split()[0])
            if g["to"]:
                hour, minute = hour - 1, 60 - minute
        before = t[:m.start()]
        lead = re.search(_LEAD, before) or re.search(r"[,.]\s*$", before) and _PART_BEFORE.search(before)
        if k == 2 and ":" not in m.group(0) and not ap and not part and not (
                lead or re.search(r"(?:\d|noon|am|pm|a m|p m)\s+(?:to|and|or|till|until|-)\s+$", before)
                # "seven thirty tomorrow", "eight fifteen on friday": a day after it makes it a time
                or re.match(r"\s+(?:today|tonight|tomorrow|on (?:the|\w+day)|this (?:morning|afternoon|evening)|"
                            r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b", t[m.end():])
                # "six thirty to eight", "ten thirty or two fifteen": a window or a choice of times, not a price
                or re.match(r"\s+(?:to|till|until|-|or)\s+\d{1,2}(?:(?::|\s)[0-5]\d)?\b(?!\s*(?:dollars?|bucks|pounds?|euros?|"
                            r"hundred|thousand|grand|k)\b)", t[m.end():])):
            continue  # "two fifty" alone is a price more often than 2:50
        if k == 3 and not ap and not part and not re.search(r"o'?\s?clock", m.group(0)):
            # A bare number is a time only after "at"/"around"/"by"/"say", or as "ten ish", and not
            # before a quantity word.
            if not (lead and (before.strip() == "" and re.match(r"\s*-?\s*ish\b", t[m.end():]) or before.strip())
                    or re.match(r"\s*-?\s*ish\b", t[m.end():])
                    or re.search(r"(?:\d|noon|am|pm|a m|p m)\s+(?:to|and|or|till|until|-)\s+$", before)
                    or re.match(r"\s+(?:to|and|till|until|-)\s+(?:\d{1,2}\b(?!\s*(?:people|guests|days?|weeks?))|noon)",
                                t[m.end():])) \
                    or re.match(r"\s*(?:%|percent|people|guests|days?|weeks?|months?|years?|dollars?|k\b)", t[m.end():]):
                continue
        if hour > 23 or minute > 59:
            continue
        if ap:
            meridiem = "pm" if ap.startswith("p") else "am"
        elif part:
            meridiem = "am" if "morning" in part else "pm"
        elif (said := _PART_BEFORE.search(before)) and 1 <= hour <= 12:
            meridiem = "am" if said.group(1) == "morning" else "pm"  # "friday morning, nine thirty"
        elif hour == 0 or hour > 12:
            meridiem = ""
        else:
            meridiem = "pm" if (1 <= hour <= 6 or (evening and hour < 12)) else "am" if hour < 12 else "pm"
        clock = _clock(hour % 24 if meridiem == "" else (hour if hour <= 12 else hour - 12) or 12, minute, meridiem)
        if clock:
            out.append((m.start(), clock))
    return out


def parse_time(text: str, evening: bool = False) -> tuple[int, int] | None:
    found = times_with_spans(text, evening)
    return found[-1][1] if found else None


def combine(day: date, hm: tuple[int, int], when) -> datetime:
    """The wall time on that day in the call's zone (zoneinfo picks the right DST offset)."""
    tz = getattr(when, "tzinfo", None)
    return datetime(day.year, day.month, day.day, hm[0], hm[1], tzinfo=tz)


def parse_datetime(text: str, when, evening: bool = False) -> datetime | None:
    """A date and a time of day from the text; a time alone means its next occurrence."""
    hm = parse_time(text, evening)
    if hm is None:
        return None
    day = parse_date(text, when)
    if day is None:
        if when is None:
            return None
        day = when.date() if combine(when.date(), hm, when) >= when else when.date() + timedelta(days=1)
    return combine(day, hm, when)
