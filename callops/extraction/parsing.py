"""Deterministic parsers for spoken answers: yes/no, numbers, dates and times, emails, phones, enums.

Used by the rules extractor on the callee's replies and by `schema.coerce` on loose strings from
the other extractors. Every parser finds all candidates in the text and answers the *last* one,
because callers correct themselves ("Tuesday... no wait, Thursday") and the last word counts.

Relative dates resolve against the call time in the callee's zone. A weekday name, with or
without "this"/"next"/"on", means its next occurrence after the call date ("next Tuesday" said
on a Monday is the next day); a month and day without a year is the next such date on or after
the call date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import phonenumbers

# Synonyms for common enum options, keyed by the option in lower case with spaces.
ENUM_SYNONYMS = {
    "card": ("credit card", "debit card"),
    "cash": ("in cash",),
    "invoice": ("bill me", "send a bill"),
    "morning": ("before noon",),
    "afternoon": ("after lunch",),
    "evening": ("after work",),
    "email": ("e-mail",),
    "sms": ("text message", "texting"),
    "phone": ("phone call", "telephone"),
    "high": ("urgent",),
    "low": ("not urgent",),
    "maybe": ("perhaps",),
    "english": ("in english",),
    "spanish": ("in spanish", "español"),
}

# --- words to digits ---------------------------------------------------------------------------

_UNITS = {w: i for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                      "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
                                      "sixteen", "seventeen", "eighteen", "nineteen"))}
_TENS = {w: (i + 2) * 10 for i, w in enumerate(("twenty", "thirty", "forty", "fifty", "sixty", "seventy",
                                                "eighty", "ninety"))}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
             "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
             "twentieth": 20, "thirtieth": 30}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES, "dozen"], key=len, reverse=True))
_NUMBER_SPAN_RE = re.compile(
    rf"\b(?:{_NUMBER_WORD})(?:(?:[\s-]+(?:and[\s-]+)?)(?:{_NUMBER_WORD}|point|a half))*(?:[\s-]+point"
    rf"(?:[\s-]+(?:{'|'.join(_UNITS)}))+)?\b")
_ORDINAL_RE = re.compile(
    r"\b(?:(twenty|thirty)[\s-])?(" + "|".join(_ORDINALS) + r")\b")


def _words_value(span: str) -> list[float]:
    """Evaluate a run of number words; several numbers when the run is a digit sequence."""
    tokens = [t for t in re.split(r"[\s-]+", span.strip()) if t]
    out: list[float] = []
    total, current, have = 0, 0, False
    last_kind = None
    i = 0

    def flush():
        nonlocal total, current, have, last_kind
        if have:
            out.append(total + current)
        total, current, have, last_kind = 0, 0, False, None

    while i < len(tokens):
        tok = tokens[i]
        if tok == "and":
            if tokens[i + 1:i + 3] == ["a", "half"]:
                current += 0.5
                i += 3
                continue
            i += 1
            continue
        if tok == "a" and tokens[i + 1:i + 2] == ["half"]:
            current += 0.5
            i += 2
            continue
        if tok == "point":
            decimals = ""
            j = i + 1
            while j < len(tokens) and tokens[j] in _UNITS and _UNITS[tokens[j]] < 10:
                decimals += str(_UNITS[tokens[j]])
                j += 1
            if decimals:
                current = float(f"{int(current)}.{decimals}")
            i = j
            continue
        if tok in _UNITS:
            value = _UNITS[tok]
            if last_kind in ("unit", "teen") or (last_kind == "tens" and value >= 10):
                flush()
            current += value
            last_kind = "teen" if value >= 10 else "unit"
            have = True
        elif tok in _TENS:
            if last_kind in ("unit", "teen", "tens"):
                flush()  # "twelve seventy-five": two numbers said one after the other
            current += _TENS[tok]
            last_kind = "tens"
            have = True
        elif tok == "hundred":
            current = (current or 1) * 100
            last_kind = "scale"
            have = True
        elif tok in ("thousand", "million"):
            total += (current or 1) * _SCALES[tok]
            current = 0
            last_kind = "scale"
            have = True
        elif tok == "dozen":
            current = (current or 1) * 12
            last_kind = "scale"
            have = True
        i += 1
    flush()
    return out


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def words_to_digits(text: str) -> str:
    """'in three days at half past ten' -> 'in 3 days at half past 10'; ordinals become '5th'."""
    def ordinal(m):
        base = _ORDINALS[m.group(2)] + ({"twenty": 20, "thirty": 30}[m.group(1)] if m.group(1) else 0)
        return f"{base}th"

    text = _ORDINAL_RE.sub(ordinal, text)
    return _NUMBER_SPAN_RE.sub(lambda m: " ".join(_fmt(v) for v in _words_value(m.group(0))) or m.group(0), text)


def _norm(text: str) -> str:
    text = (text or "").lower().replace("’", "'").replace("‘", "'")
    return " ".join(text.split())


# --- refusals and yes/no -----------------------------------------------------------------------

_REFUSAL_RE = re.compile(
    r"\b(?:(?:i'?d|i would) rather not(?: say| answer| share)?|prefer not to(?: say| answer| share)?|"
    r"not comfortable(?: sharing| saying)?(?: that)?|(?:can|could) we skip|skip (?:that|this)|"
    r"i (?:don'?t|do not) know|not sure|no comment|none of your business|pass on that)\b")
_NON_ANSWER_RE = re.compile(
    r"^(?:sorry,? )?(?:what was that|can you repeat|could you repeat|come again|pardon|hold on|hang on|"
    r"one moment|just a moment|let me check|give me a (?:second|sec|moment)|the line cut out)")

_YES = ["yes", "yeah", "yep", "yup", "ya", "sure", "correct", "absolutely", "definitely", "of course",
        "that's right", "that is right", "right", "sounds good", "sounds great", "works for me", "that works",
        "that'll work", "it works", "okay", "ok", "alright", "all right", "please do", "go ahead", "confirmed",
        "i confirm", "confirm it", "affirmative", "certainly", "mm-hm", "mhm", "uh-huh", "no problem",
        "not a problem", "why not", "i think so", "i do", "i will", "i would", "i am", "i can", "we will",
        "we can", "we do", "count me in", "wouldn't miss it", "would not miss it", "for sure", "yes please", "i'd love to", "i would love to", "true"]
_NO = ["no", "nope", "nah", "not really", "i don't", "i do not", "i can't", "i cannot", "i won't", "i will not",
       "i'm not", "i am not", "we can't", "we won't", "don't think so", "i don't think so", "negative",
       "unfortunately not", "no thanks", "no thank you", "that won't work", "won't work", "doesn't work",
       "does not work", "can't make", "cannot make", "not interested", "never", "cancel", "not correct",
       "not right", "that's wrong", "wrong", "false", "not at all", "definitely not", "absolutely not",
       "of course not", "certainly not", "i'd rather not", "i would rather not", "not anymore"]
_BOOL_RE = re.compile(r"(?<![\w'-])(" + "|".join(re.escape(p) for p in sorted(_YES + _NO, key=len, reverse=True))
                      + r")(?![\w'-])")
_YES_SET, _NO_SET = set(_YES), set(_NO)


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL_RE.search(_norm(text)))


def is_non_answer(text: str) -> bool:
    """'Sorry, what was that?', 'hold on': the callee has not answered yet."""
    t = _norm(text).lstrip("hm ,.").strip()
    t = re.sub(r"^(?:um+|uh+|oh|hmm+|well)[,.\s]+", "", t)
    # A short question back ("Which one?", "Me?") is not an answer; a longer one may be the answer
    # itself ("How is she doing in math?" when asked for questions for the teacher).
    short_question = t.endswith("?") and len(t.split()) <= 4 and not _BOOL_RE.search(t.split("?")[0])
    return bool(_NON_ANSWER_RE.match(t)) or short_question


def parse_boolean(text: str) -> bool | None:
    """The last yes or no in the text; None when there is none or the callee declined to answer."""
    t = _REFUSAL_RE.sub(" ", _norm(text))
    found = None
    for m in _BOOL_RE.finditer(t):
        phrase = m.group(1)
        found = phrase in _YES_SET if phrase not in _NO_SET else False
    return found


# --- numbers -----------------------------------------------------------------------------------

_DIGITS_RE = re.compile(
    r"(?<![\w.])(-)?[$€£]?\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s?(k|thousand|million|m)\b)?(?![\w/:])")


# "skip that one", "the blue one": a pronoun, not a quantity.
_PRONOUN_ONE_RE = re.compile(r"\b(that|this|the|which|each|other|another|any|every|same|last|next|right|wrong|new|"
                             r"old|first|second|big|small|other)\s+one\b"
                             r"(?!\s+(?!(?:please|thanks|then|too|instead|again|is|was|works|will|for|and|or)\b)[a-z])")


def numbers_in(text: str) -> list:
    """Every number in the text (digits or words), in order: int when whole, else float."""
    t = words_to_digits(_PRONOUN_ONE_RE.sub(r"\1 thing", _norm(text)))
    found = []
    for m in _DIGITS_RE.finditer(t):
        if re.match(r"\s*(?:am|pm|a\.m|p\.m|o'clock)\b", t[m.end():]):
            continue  # a time of day, not a quantity
        whole = m.group(2).replace(",", "")
        value = float(f"{whole}.{m.group(3)}") if m.group(3) else int(whole)
        scale = {"k": 1000, "thousand": 1000, "million": 1_000_000, "m": 1_000_000}.get(m.group(4) or "", 1)
        value = value * scale
        if m.group(1):
            value = -value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        found.append(value)
    return found


def parse_number(text: str):
    """The last number in the text (digits or words): int when whole, else float."""
    found = numbers_in(text)
    return found[-1] if found else None


def parse_integer(text: str):
    value = parse_number(text)
    if value is None:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value


# --- dates and times ---------------------------------------------------------------------------

_MONTHS = {m: i + 1 for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july",
                                            "august", "september", "october", "november", "december"))}
_MONTH_ABBR = {m[:3]: n for m, n in _MONTHS.items()} | {"sept": 9}
_MONTH_RE = r"(january|february|march|april|may|june|july|august|september|october|november|december|" \
            r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_DATE_PATTERNS = [
    ("iso", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")),
    ("us", re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\b")),
    ("month_day", re.compile(_MONTH_RE + r"\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4})\b)?")),
    ("day_month", re.compile(r"\b(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH_RE
                             + r"(?:,?\s+(\d{4})\b)?")),
    ("after_tomorrow", re.compile(r"\b(?:the\s+)?day after tomorrow\b")),
    ("relative", re.compile(r"\b(today|tonight|this (?:morning|afternoon|evening)|tomorrow|yesterday|"
                            r"last night)\b")),
    ("in_n", re.compile(r"\bin\s+(a|an|\d+)\s+(day|week)s?\b")),
    ("from_now", re.compile(r"\b(a|an|\d+)\s+(day|week)s?\s+from\s+(?:today|now)\b")),
    ("weekday", re.compile(r"\b(?:(?:next|this|on|coming|this coming)\s+)?(" + "|".join(_WEEKDAYS) + r")s?\b")),
]


def _resolve(kind: str, m, today: date) -> date | None:
    try:
        if kind == "iso":
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if kind == "us":
            month, day, year = int(m.group(1)), int(m.group(2)), m.group(3)
            if year:
                year = int(year) + (2000 if len(year) == 2 else 0)
                return date(year, month, day)
            return _next_month_day(today, month, day)
        if kind in ("month_day", "day_month"):
            if kind == "month_day":
                month_word, day, year = m.group(1), int(m.group(2)), m.group(3)
            else:
                day, month_word, year = int(m.group(1)), m.group(2), m.group(3)
            month = _MONTHS.get(month_word) or _MONTH_ABBR.get(month_word[:4] if month_word.startswith("sept")
                                                               else month_word[:3])
            if year:
                return date(int(year), month, day)
            return _next_month_day(today, month, day)
        if kind == "after_tomorrow":
            return today + timedelta(days=2)
        if kind == "relative":
            word = m.group(1)
            if word == "tomorrow":
                return today + timedelta(days=1)
            if word in ("yesterday", "last night"):
                return today - timedelta(days=1)
            return today
        if kind in ("in_n", "from_now"):
            n = 1 if m.group(1) in ("a", "an") else int(m.group(1))
            return today + timedelta(days=n * (7 if m.group(2) == "week" else 1))
        if kind == "weekday":
            k = _WEEKDAYS.index(m.group(1))
            return today + timedelta(days=(k - today.weekday()) % 7 or 7)
    except ValueError:
        return None
    return None


def _next_month_day(today: date, month: int, day: int) -> date:
    candidate = date(today.year, month, day)
    if candidate < today:
        candidate = date(today.year + 1, month, day)
    return candidate


def _date_candidates(text: str, today: date):
    t = words_to_digits(_norm(text))
    spans = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(t):
            if kind == "us" and re.match(r"\d", t[m.end():m.end() + 1] or ""):
                continue
            resolved = _resolve(kind, m, today)
            if resolved:
                spans.append((m.start(), m.end(), resolved))
    return _longest(spans)


def _longest(spans):
    """Non-overlapping spans, longer ones first: "a week from today" beats its "today"."""
    kept = []
    for start, end, value in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0])):
        if any(s < end and start < e for s, e, _ in kept):
            continue
        kept.append((start, end, value))
    return sorted(kept, key=lambda s: s[0])


def dates_in(text: str, call_time) -> list[date]:
    """Every date the text names, in order."""
    return [value for _, _, value in _date_candidates(text, _today(call_time))]


def parse_date(text: str, call_time) -> date | None:
    """The last date the text names, resolved against the call time."""
    found = dates_in(text, call_time)
    return found[-1] if found else None


_MERIDIEM = r"(a\.?\s?m\.?|p\.?\s?m\.?)"
_PERIOD = r"(in the morning|in the afternoon|in the evening|at night|tonight|last night|this morning|" \
          r"this afternoon|this evening)"
_TIME_PATTERNS = [
    ("hm", re.compile(r"\b(\d{1,2}):(\d{2})(?:\s*" + _MERIDIEM + r"|\s+" + _PERIOD + r")?")),
    ("h_mm_suffix", re.compile(r"\b(\d{1,2})\s(\d{2})\s*(?:" + _MERIDIEM + r"|" + _PERIOD + r")")),
    ("h_suffix", re.compile(r"\b(\d{1,2})\s*(?:o'?clock\s*)?(?:" + _MERIDIEM + r"(?![a-z])|" + _PERIOD + r")")),
    ("past", re.compile(r"\b(half|quarter|\d{1,2})\s+past\s+(\d{1,2})(?:\s*(?:" + _MERIDIEM + r"|" + _PERIOD
                        + r"))?")),
    ("to", re.compile(r"\bquarter\s+to\s+(\d{1,2})(?:\s*(?:" + _MERIDIEM + r"|" + _PERIOD + r"))?")),
    ("named", re.compile(r"\b(noon|midday|midnight)\b")),
    ("oclock", re.compile(r"\b(\d{1,2})\s*o'?clock\b")),
    ("at_bare", re.compile(r"\b(?:at|around|about|by)\s+(\d{1,2})\b(?!\s*(?:st|nd|rd|th|/|:|\d|%|days?|weeks?"
                           r"|people|of|dollars?)\b)")),
]


def _apply_meridiem(hour: int, meridiem: str | None, period: str | None, bare: bool) -> int | None:
    if hour > 23:
        return None
    pm = None
    if meridiem:
        pm = meridiem.replace(".", "").replace(" ", "").startswith("p")
    elif period:
        pm = not period.endswith("morning")
    if pm is None:
        if hour >= 13 or hour == 0 or not bare:
            return hour
        # A bare "at 3": nobody books a call for 3 in the morning.
        return hour + 12 if 1 <= hour <= 6 else hour
    if hour > 12:
        return hour
    if pm:
        return 12 if hour == 12 else hour + 12
    return 0 if hour == 12 else hour


def _time_candidates(text: str):
    t = words_to_digits(_norm(text))
    spans = []
    for kind, pattern in _TIME_PATTERNS:
        for m in pattern.finditer(t):
            value = None
            if kind == "hm":
                hour = _apply_meridiem(int(m.group(1)), m.group(3), m.group(4), bare=True)
                minute = int(m.group(2))
                value = (hour, minute) if hour is not None and minute < 60 else None
            elif kind == "h_mm_suffix":
                hour = _apply_meridiem(int(m.group(1)), m.group(3), m.group(4), bare=False)
                minute = int(m.group(2))
                value = (hour, minute) if hour is not None and minute < 60 else None
            elif kind == "h_suffix":
                hour = _apply_meridiem(int(m.group(1)), m.group(2), m.group(3), bare=False)
                value = (hour, 0) if hour is not None else None
            elif kind == "past":
                minute = {"half": 30, "quarter": 15}.get(m.group(1))
                minute = int(m.group(1)) if minute is None else minute
                hour = _apply_meridiem(int(m.group(2)), m.group(3), m.group(4), bare=True)
                value = (hour, minute) if hour is not None and minute < 60 else None
            elif kind == "to":
                hour = _apply_meridiem(int(m.group(1)), m.group(2), m.group(3), bare=True)
                value = ((hour - 1) % 24, 45) if hour is not None else None
            elif kind == "named":
                value = (0, 0) if m.group(1) == "midnight" else (12, 0)
            elif kind == "oclock":
                hour = _apply_meridiem(int(m.group(1)), None, None, bare=True)
                value = (hour, 0) if hour is not None else None
            elif kind == "at_bare":
                hour = _apply_meridiem(int(m.group(1)), None, None, bare=True)
                value = (hour, 0) if hour is not None and int(m.group(1)) <= 12 else None
            if value is not None:
                spans.append((m.start(), m.end(), value))
    return _longest(spans)


def parse_time(text: str) -> tuple[int, int] | None:
    """The last time of day in the text as (hour, minute)."""
    spans = _time_candidates(text)
    return spans[-1][2] if spans else None


def combine(day: date, hm: tuple[int, int], call_time) -> datetime:
    tz = getattr(call_time, "tzinfo", None)
    return datetime(day.year, day.month, day.day, hm[0], hm[1], tzinfo=tz)


def parse_datetime(text: str, call_time) -> datetime | None:
    """A date and a time of day from the text; a time alone means its next occurrence."""
    hm = parse_time(text)
    if hm is None:
        return None
    day = parse_date(text, call_time)
    if day is None:
        if call_time is None:
            return None
        day = call_time.date()
        if combine(day, hm, call_time) < call_time:
            day = day + timedelta(days=1)
    return combine(day, hm, call_time)


def _today(call_time) -> date:
    if call_time is None:
        return date.today()
    return call_time.date() if isinstance(call_time, datetime) else call_time


# --- emails and phones -------------------------------------------------------------------------

_EMAIL_FIND_RE = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")


def parse_email(text: str) -> str | None:
    """The last email address, written or spoken ('john dot smith at example dot com')."""
    found = emails_in(text)
    return found[-1] if found else None


def emails_in(text: str) -> list[str]:
    """Every email address in the text, in order."""
    t = _norm(text)
    t = re.sub(r"\s+(?:dot|period)\s+", ".", t)
    t = re.sub(r"\s+underscore\s+", "_", t)
    t = re.sub(r"\s+(?:dash|hyphen)\s+", "-", t)
    t = re.sub(r"([a-z0-9._%+-])\s+at\s+([a-z0-9-]+(?:\.[a-z0-9-]+)+)", r"\1@\2", t)
    t = re.sub(r"\s*@\s*", "@", t)
    return [e.rstrip(".") for e in _EMAIL_FIND_RE.findall(t)]


_DIGIT_WORD_RE = re.compile(r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b")
_DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_PHONE_RE = re.compile(r"\+?\(?\d[\d\s().,-]{5,}\d")


def parse_phone(text: str, region: str = "US") -> str | None:
    """The last phone number in the text, as E.164 (default region US)."""
    found = phones_in(text, region)
    return found[-1] if found else None


def phones_in(text: str, region: str = "US") -> list[str]:
    """Every phone number in the text, as E.164, in order."""
    t = _norm(text)
    t = re.sub(r"\bdouble (zero|oh|one|two|three|four|five|six|seven|eight|nine)\b",
               lambda m: f"{m.group(1)} {m.group(1)}", t)
    t = _DIGIT_WORD_RE.sub(lambda m: _DIGIT_WORDS[m.group(1)], t)
    found = []
    for m in _PHONE_RE.finditer(t):
        candidate = m.group(0).rstrip(".,- ")
        digits = re.sub(r"[^\d+]", "", candidate)
        if len(digits.lstrip("+")) < 7:
            continue
        number = _to_e164(digits, region)
        if number:
            found.append(number)
        else:
            # Two numbers said back to back ("312 555 0142, 310 555 0186") read as one run.
            found.extend(n for n in (_to_e164(p, region) for p in re.split(r"[,;]", candidate)
                                     if len(re.sub(r"\D", "", p)) >= 7) if n)
    return found


def _to_e164(digits: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(digits, region or "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- enums, lists and free text ----------------------------------------------------------------

def _spoken(option: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", option)
    return " ".join(spaced.replace("_", " ").replace("-", " ").split()).lower()


def _forms(option: str) -> list[str]:
    base = _spoken(option)
    forms = {base}
    if re.fullmatch(r"[a-z]+", base):
        forms |= {base + "s", base + "es"}
        if base.endswith("y"):
            forms.add(base[:-1] + "ies")
    forms |= set(ENUM_SYNONYMS.get(base, ()))
    return sorted(forms, key=len, reverse=True)


_NEGATORS = re.compile(r"(?:\bnot|\bno|\bnot the|\brather than|\binstead of|\bexcept|\bdon't want|\bnever)\s*$")


def enum_mentions(text: str, choices) -> list[tuple[int, str, bool]]:
    """(position, option, negated) for each mention of an option, longest match first."""
    t = _norm(text).replace("_", " ").replace("-", " ")
    claimed: list[tuple[int, int]] = []
    mentions = []
    candidates = []
    for option in choices:
        for form in _forms(option):
            for m in re.finditer(r"(?<![\w])" + re.escape(form.replace("-", " ")) + r"(?![\w])", t):
                candidates.append((m.start(), m.end(), option))
    for start, end, option in sorted(candidates, key=lambda c: (-(c[1] - c[0]), c[0])):
        if any(s < end and start < e for s, e in claimed):
            continue
        claimed.append((start, end))
        negated = bool(_NEGATORS.search(t[max(0, start - 14):start]))
        mentions.append((start, option, negated))
    return sorted(mentions)


def match_enum(text: str, choices) -> str | None:
    """The option the text settles on: the last mention that is not negated ('cash, not card')."""
    t = _norm(text)
    for option in choices:
        if t == option.lower() or t == _spoken(option):
            return option
    found = None
    for _, option, negated in enum_mentions(text, choices):
        if not negated:
            found = option
    return found


_LEADING_FILLERS = re.compile(
    r"^(?:(?:um+|uh+|hmm+|oh|well|so|okay|ok|sure|yeah|yes|right|let me think|let me see)[\s,.:!…-]+)+", re.I)
# Lead-ins dropped only before a short value ("It's Maria Lopez"), not from a sentence that
# happens to start with them ("It's my mother's birthday, so ...").
_LEAD_IN = re.compile(
    r"^(?:it's|it is|that's|that is|that would be|that'd be|(?:my|her|his|its|their|the) name is|"
    r"(?:my|her|his|its|their) name's|this is|i'm|i am|call me|"
    r"you can use|i'd say|i would say|i'd like|i would like)\s+", re.I)
_SHORT_VALUE_WORDS = 6
_CORRECTION_RE = re.compile(r"(?:\bactually,?\s+no[.,]?|\bno wait,?|\bsorry,? i mean|\bi mean|\bactually,)\s+",
                            re.I)


def clean_string(text: str) -> str | None:
    """The substance of a free-text answer: fillers and lead-ins removed, the last correction kept."""
    text = " ".join((text or "").split())
    if not text or is_refusal(text) or is_non_answer(text):
        return None
    parts = _CORRECTION_RE.split(text)
    text = parts[-1] if parts[-1].strip() else text
    text = re.sub(r"^\.+\s*", "", text)
    text = _LEADING_FILLERS.sub("", text).strip()
    rest = _LEAD_IN.sub("", text, count=1)
    if rest != text and len(rest.split()) <= _SHORT_VALUE_WORDS:
        text = rest
    text = text.rstrip(" .!?…,;")
    return text or None


_POLITE_RE = re.compile(r"^(?:please|thanks|thank you|i think|i guess)$", re.I)


def split_list(text: str, commas: bool = True) -> list[str]:
    """Items of a spoken list; without `commas` only "and"/";" separate ("Friday, at 3pm and ...")."""
    body = clean_string(text) or ""
    separators = r"\s*(?:,|;|\band\b|\bplus\b|&)\s*" if commas else r"\s*(?:;|\band\b|\bplus\b|&)\s*"
    parts = [p.strip(" .,") for p in re.split(separators, body)]
    return [p for p in parts if p and not _POLITE_RE.match(p)]
