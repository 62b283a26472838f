"""Numbers and dates in spoken text.

The libraries do the reading: `number-parser` turns number words into digits and `dateparser`
resolves dates against the call's time (RELATIVE_BASE, future preferred unless told otherwise).
What is written here is only what they do not cover, said at each place: the spoken layer
("two fifty", "1.5k", "the 14th") and finding a value inside a whole reply. Times of day are in
`times_of_day.py`, money and durations in `amounts.py`, emails and phones (email-validator, phonenumbers) in
`contacts.py`, yes/no, enums and free text in `answers.py`.

Every `*_in` finder answers all values in the text in order; callers take the last one, because
callers correct themselves ("Tuesday... no wait, Thursday").
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache

import dateparser
from number_parser import parse as _number_words
from number_parser import parse_ordinal

from .answers import ENUM_SYNONYMS, norm  # noqa: F401  (ENUM_SYNONYMS: the sandbox's callee reads it here)

# --- numbers -----------------------------------------------------------------------------------
# number-parser reads "four hundred eighty seven" and keeps "three bedrooms two kids" apart. It
# does not read: "a dozen", "a hundred", "two fifty" / "nineteen eighty five" (hundreds said as
# pairs), "1.5k", "two grand", "1.2 million" (digits with a scale word), "one point five",
# "three and a half"; and it turns ordinals into plain numbers. Those are handled around it.

_UNIT = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_TEEN = r"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
_TENS = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-]" + _UNIT + r")?"
# "twenty two fifty an hour" is 22.50: an hourly rate in pairs is dollars and cents (amounts.py).
_PAIR_RE = re.compile(rf"\b({_UNIT}|{_TEEN}|{_TENS})\s+({_TEEN}|{_TENS})\b(?![\s-]+(?:hundred|thousand|million|k\b|grand))"
                      r"(?!(?:\s+(?:dollars?|bucks|pounds?|euros?))?\s+(?:an?|per) (?:hour|hr)\b)")
_CENTURY_RE = re.compile(rf"\b(nineteen|eighteen)\s+({_TEEN}|{_TENS})\b")
_YEAR_RE = re.compile(rf"\btwenty\s+({_TEEN}|{_TENS})\b(?![\s-]+(?:hundred|thousand|million))")
_DIGIT_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())} | {"oh": 0}
_ORD = ("first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|"
        "fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth")
_ORDINAL_RE = re.compile(rf"\b((?:twenty|thirty)[\s-])?({_ORD})\b")
_SCALES = {"lpa": 1e5, "k": 1e3, "grand": 1e3, "thousand": 1e3, "lakh": 1e5, "lakhs": 1e5, "million": 1e6, "mil": 1e6, "m": 1e6,
           "crore": 1e7, "billion": 1e9, "bn": 1e9}
_SCALE_WORDS = r"(k|grand|thousand|lakhs?|lpa|million|mil|m|crore|billion|bn)\b"
_SCALED_RE = re.compile(r"(\d+(?:\.\d+)?)\s?" + _SCALE_WORDS)
# "fifteen to twenty lakhs", "between eight and twelve k": the scale belongs to both ends.
_SCALED_RANGE_RE = re.compile(r"(\d+(?:\.\d+)?)(\s+(?:to|and|or|-)\s+)(?=\d+(?:\.\d+)?\s?" + _SCALE_WORDS + ")")
_PRONOUN_ONE_RE = re.compile(r"\b(that|this|which|each|another|any|every|same|last|next|right|wrong|new|old|big|"
                             r"small|other|the other|\d+(?:st|nd|rd|th)) one\b")
# "One" after a negated verb stands for a thing not had: "we don't have one", "haven't set one yet".
_NEGATED_ONE_RE = re.compile(r"\b((?:haven'?t|hasn'?t|don'?t|doesn'?t|didn'?t|won'?t|can'?t|never)(?: [a-z]+){1,2}) one\b"
                             r"(?! (?:hundred|thousand|million|of)\b)")
_NUMBER_RE = re.compile(r"(?<![\w.])(-)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w:/]|\.\d)")


def ordinals_to_digits(text: str) -> str:
    """'the twenty sixth' -> 'the 26th' (number-parser would drop the 'th')."""
    return _ORDINAL_RE.sub(lambda m: _nth(parse_ordinal(m.group(0).replace("-", " "), language="en")) or m.group(0), text)


def _nth(n: int | None) -> str:
    return "" if n is None else f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@lru_cache(maxsize=4096)
def digits(text: str, pairs: str = "years") -> str:
    """Number words to digits, ordinals to '5th', scales applied: 'about 1.5k' -> 'about 1500'.

    `pairs="money"` reads "two fifty" as 250 and "twenty four fifty" as 2450 (prices); "years" only
    "nineteen eighty five" and "twenty twenty six"; "" leaves "2 50" (times, counts, digits)."""
    t = ordinals_to_digits(norm(text))
    t = _SCALED_RE.sub(lambda m: _fmt(float(m.group(1)) * _SCALES[m.group(2)]), t)
    t = _PRONOUN_ONE_RE.sub(r"\1 thing", t)  # "skip that one": a pronoun, not a quantity
    t = _NEGATED_ONE_RE.sub(r"\1 thing", t)  # "we haven't really set one yet"
    # "one point two million": the digits after "point" one by one, before number-parser reads
    # "two million" as one number; "a quarter million", "half a million": a fraction of the scale.
    t = re.sub(rf"\bpoint((?:\s+(?:{_UNIT}|zero|oh|\d))+)\b",
               lambda m: "point " + " ".join(str(_DIGIT_WORDS.get(w, w)) for w in m.group(1).split()), t)
    t = re.sub(r"\b(?:a )?(quarter|half)(?: of)?(?: a)? (million|mil|thousand|grand|k|billion)\b",
               lambda m: _fmt((0.25 if m.group(1) == "quarter" else 0.5) * _SCALES[m.group(2)]), t)
    for pattern, repl in ((r"\bhalf a dozen\b", "6"), (r"\b(?:a|one) (hundred|thousand|million)\b", r"one \1"),
                          (r"\b(?:a )?dozen\b", "12"), (r"\ba couple(?: of)?\b", "2")):
        t = re.sub(pattern, repl, t)
    if pairs:
        t = _YEAR_RE.sub(lambda m: f"twenty hundred {m.group(1)}", t)
        t = (_PAIR_RE if pairs == "money" else _CENTURY_RE).sub(lambda m: f"{m.group(1)} hundred {m.group(2)}", t)
    t = _number_words(t, language="en")  # English: detecting the language costs most of the time
    t = re.sub(r"(\d+) point ((?:\d )*\d)\b", lambda m: m.group(1) + "." + m.group(2).replace(" ", ""), t)
    t = re.sub(r"\b(\d+\.\d+) (1000|1000000|1000000000)\b", lambda m: _fmt(float(m.group(1)) * int(m.group(2))), t)
    t = re.sub(r"(\d+) and a half\b", lambda m: str(int(m.group(1)) + 0.5), t)
    t = _SCALED_RANGE_RE.sub(lambda m: m.group(1) + " " + m.group(3) + m.group(2), t)
    t = _SCALED_RE.sub(lambda m: _fmt(float(m.group(1)) * _SCALES[m.group(2)]), t)
    return re.sub(r"(\d+) 000\b", r"\g<1>000", t)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def numbers_with_spans(text: str) -> list[tuple[int, float]]:
    """(position in the digit form, value) for every quantity; times of day and ordinals excluded."""
    # Digits read one by one ("four seven two nine one"): one number, at the same length.
    t = re.sub(r"\b\d(?: \d\b){2,}(?![.,]\d)", lambda m: m.group(0).replace(" ", "").ljust(len(m.group(0))), digits(text))
    out = []
    for m in _NUMBER_RE.finditer(t):
        if re.match(r"\s*(?:am|pm|a\.?\s?m\b|p\.?\s?m\b|o'?clock|st\b|nd\b|rd\b|th\b)", t[m.end():]):
            continue
        value = float(m.group(2).replace(",", "") + (m.group(3) or ""))
        value = -value if m.group(1) else value
        out.append((m.start(), int(value) if value.is_integer() else value))
    return out


def numbers_in(text: str) -> list:
    return [v for _, v in numbers_with_spans(text)]


def parse_number(text: str):
    found = numbers_in(text)
    return found[-1] if found else None


def parse_integer(text: str):
    found = [v for v in numbers_in(text) if float(v).is_integer()]
    return int(found[-1]) if found else None


# --- dates -------------------------------------------------------------------------------------
# dateparser resolves what is found here. Written by hand: finding the date inside a reply
# (dateparser's own search reads "we" as Wednesday), a bare day "the 14th" (dateparser answers a
# wrong month for "the 2nd"), "the week after next", "end of the month" and "a week from today" / "a week today".

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|" \
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE_RE = re.compile("|".join([
    r"(?P<iso>\b\d{4}-\d{1,2}-\d{1,2}\b)", r"(?P<slash>\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b)",
    rf"(?P<md>\b{_MONTH}\.?\s+(?:the\s+)?{_DAY}\b(?:,?\s+\d{{4}}\b)?)",
    rf"(?P<dm>\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+\d{{4}}\b)?)",
    rf"(?P<end>\b(?:the\s+)?end of (?:the |this )?(?:(?P<endnext>next )?month|(?P<endm>{_MONTH}))\b)",
    r"(?P<rel>\b(?:the )?day after tomorrow\b|\btoday\b|\btonight\b|\btomorrow\b|\byesterday\b)",
    r"(?P<inn>\bin (?:a|an|\d+) (?:day|week)s?\b|\b(?:a|an|\d+) (?:day|week)s? (?:from (?:today|now)|today)\b)",
    rf"(?P<wd>\b(?:(?:next|this|last|on|coming|this coming)\s+)?{_WEEKDAY}(?:\s+(?:the\s+)?(?P<wdday>\d{{1,2}})"
    rf"(?:st|nd|rd|th))?(?P<wan>\s+(?:of\s+)?the week after next|\s+(?:of\s+)?next week)?)",
    rf"(?P<nth>\b(?:the\s+)?(?P<nthn>1st|2nd|3rd|4th|last)\s+(?P<nthw>{_WEEKDAY})\s+(?:in|of)\s+(?P<nthm>{_MONTH})\b)",
    r"(?P<bare>\bthe\s+\d{1,2}(?:st|nd|rd|th)\b(?!\s+(?:one|thing|option|choice|slot|time|person|floor)\b))",
]))


def _base(when) -> datetime:
    if when is None:
        return datetime.now()
    return when.replace(tzinfo=None) if isinstance(when, datetime) else datetime(when.year, when.month, when.day)


@lru_cache(maxsize=4096)
def _dateparse(span: str, base: datetime, prefer: str, order: str) -> date | None:
    found = dateparser.parse(span, languages=["en"], settings={
        "RELATIVE_BASE": base, "PREFER_DATES_FROM": prefer, "DATE_ORDER": order, "PREFER_DAY_OF_MONTH": "first"})
    return found.date() if found else None


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _resolve(m, base: datetime, past: bool, order: str) -> date | None:
    span, today = m.group(0).strip(), base.date()
    prefer = "past" if past else "future"
    if m.group("end"):
        if m.group("endm"):
            first = _dateparse(m.group("endm") + " 1", datetime(base.year, 1, 1), "future", order)
            if not first:
                return None
            end = _month_end(first)
            return end if past or end >= today else _month_end(first.replace(year=first.year + 1))
        return _month_end(_month_end(today) + timedelta(days=1) if m.group("endnext") else today)
    if m.group("nth"):  # "the second saturday in february": dateparser does not count weekdays in a month
        first = _dateparse(m.group("nthm") + " 1", datetime(base.year, 1, 1), "future", order)
        if first is None:
            return None
        if first < today.replace(day=1) and not past:
            first = first.replace(year=first.year + 1)
        days = [first + timedelta(days=k) for k in range(_month_end(first).day)
                if _WEEKDAYS[(first + timedelta(days=k)).weekday()] == m.group("nthw")]
        return days[-1] if m.group("nthn") == "last" else days[int(m.group("nthn")[0]) - 1]
    if m.group("bare") or m.group("wdday"):
        day_digits = re.search(r"\d+", m.group("bare") or m.group("wdday"))
        assert day_digits is not None  # both groups' patterns start with digits
        n = int(day_digits.group())
        for k in range(13):  # the next such day on or after the call date (in a month that has it)
            month = (today.replace(day=1) + timedelta(days=32 * k)).replace(day=1)
            if n <= _month_end(month).day and date(month.year, month.month, n) >= today:
                candidate = date(month.year, month.month, n)
                if not m.group("wdday") or _WEEKDAYS[candidate.weekday()] in span:
                    return candidate
        return None
    if m.group("inn"):
        span = re.sub(r"(a|an|\d+) (day|week)s? (?:from (?:today|now)|today)", r"in \1 \2", span)  # "a week today"
    if m.group("wd") and m.group("wan"):
        weekday = next(i for i, d in enumerate(_WEEKDAYS) if d in span)
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=2 if "after" in m.group("wan") else 1)
        return monday + timedelta(days=weekday)
    if m.group("wd"):
        span = re.sub(r"^(?:on|coming|this coming|next)\s+", "", span)
    if m.group("md") or m.group("dm"):
        if re.search(r"\d{4}$", span):
            return _dateparse(span, base, prefer, order)
        # "On or after the call date": dateparser's "future" means strictly after, so from yesterday.
        return _dateparse(span, base - timedelta(days=1) if not past else base, prefer, order)
    return _dateparse(span, base, prefer, order)


def dates_with_spans(text: str, when, past: bool = False, region: str = "US") -> list[tuple[int, date]]:
    t, base = digits(text), _base(when)
    # "the week after next, the thursday": the weekday first, as the pattern reads it.
    t = re.sub(rf"\b(?:the )?(week after next|next week)[,.]? (?:on |probably |maybe |ideally )?(?:the )?({_WEEKDAY})\b",
               lambda m: f"{m.group(2)} {'the ' if 'after' in m.group(1) else ''}{m.group(1)}", t)
    # "april 3rd to 5th": the month said once for both ends of a range.
    t = re.sub(rf"\b({_MONTH})\s+(\d{{1,2}}(?:st|nd|rd|th)?)(\s*(?:to|through|till|until|-)\s*)(\d{{1,2}}(?:st|nd|rd|th)?)\b",
               r"\1 \2\3\1 \4", t)
    order = "MDY" if (region or "US").upper() in ("US", "PH", "CA") else "DMY"
    out = []
    for m in _DATE_RE.finditer(t):
        day = _resolve(m, base, past, order)
        if day is not None:
            out.append((m.start(), day))
    return out


def dates_in(text: str, when, past: bool = False, region: str = "US") -> list[date]:
    return [d for _, d in dates_with_spans(text, when, past, region)]


def parse_date(text: str, when, past: bool = False, region: str = "US") -> date | None:
    found = dates_in(text, when, past, region)
    return found[-1] if found else None
