"""Amounts of money and durations in spoken text: "two fifty", "about 1.5k euros", "an hour and a half".

Numbers are read by `parsing.digits` (number-parser underneath). The rest is written here: no
maintained library reads amounts or durations out of a sentence.
"""

from __future__ import annotations

import re

from .answers import norm
from .parsing import _NUMBER_RE, digits

# Written here: no maintained library reads "two fifty bucks" or "an hour and a half"; amounts go
# through `digits` above. The country -> currency table covers the callee countries we see (a
# full table would need Babel's locale data, ~30 MB, for one lookup).

_CURRENCY_WORDS = [("USD", r"\$|usd|us dollars?|dollars?|bucks?"), ("EUR", r"€|eur|euros?"),
                   ("GBP", r"£|gbp|pounds?(?: sterling)?|quid"), ("INR", r"₹|inr|rupees?|rs\.?"),
                   ("JPY", r"¥|yen|jpy"), ("CHF", r"chf|swiss francs?"), ("ZAR", r"zar|rand"),
                   ("AED", r"aed|dirhams?"), ("BRL", r"brl|reais|reals?"), ("MXN", r"mxn|pesos?"),
                   ("PHP", r"php|philippine pesos?"), ("SEK", r"sek|kronor"), ("NOK", r"nok|kroner"),
                   ("PLN", r"pln|zloty|złoty"), ("KES", r"kes|shillings?"), ("NGN", r"ngn|naira")]
_DOLLAR_CODES = {"CA": "CAD", "AU": "AUD", "NZ": "NZD", "SG": "SGD"}
_REGION_CURRENCY = {"US": "USD", "GB": "GBP", "IN": "INR", "JP": "JPY", "CH": "CHF", "ZA": "ZAR", "AE": "AED",
                    "BR": "BRL", "MX": "MXN", "PH": "PHP", "SE": "SEK", "NO": "NOK", "PL": "PLN", "KE": "KES",
                    "NG": "NGN", **_DOLLAR_CODES, **dict.fromkeys(("DE", "FR", "ES", "IT", "NL", "IE", "PT", "AT",
                                                                   "BE", "FI", "GR"), "EUR")}
_CURRENCY_RE = re.compile(r"(?<![a-z])(" + "|".join(f"(?:{w})" for _, w in _CURRENCY_WORDS) + r")(?![a-z])")
_CENTS_RE = re.compile(r"(\d+) (?:dollars?|euros?|pounds?|bucks|rupees?)? ?(?:and )?(\d{1,2}) (?:cents?|pence|p|paise)\b")


def currency_of_region(region: str | None) -> str:
    return _REGION_CURRENCY.get((region or "US").upper(), "USD")


def _code(word: str, region: str) -> str:
    for code, pattern in _CURRENCY_WORDS:
        if re.fullmatch(pattern, word):
            if code == "USD" and word not in ("usd",) and (region or "").upper() in _DOLLAR_CODES:
                return _DOLLAR_CODES[region.upper()]  # "dollars" said in Toronto are Canadian
            return code
    return currency_of_region(region)


def currencies_in(text: str, region: str = "US", default: str | None = None) -> list[tuple[int, dict]]:
    """(position, {"amount", "currency"}) for every amount; the code from the words, else `default`
    (the currency the conversation names), else the region's."""
    t = _CENTS_RE.sub(lambda m: f"{m.group(1)}.{int(m.group(2)):02d} dollars", digits(text, pairs="money"))
    t = re.sub(r"(?<=\d) (\d{2}) (?=dollars|bucks)", r".\1 ", t)  # "two thirty seven twelve dollars"
    # "twelve pounds fifty", "twenty two fifty an hour": the pair after the unit, or before a rate per hour, is cents.
    t = re.sub(r"\b(\d+) (dollars?|bucks|pounds?|euros?) (?:and )?(\d{2})\b(?!\s*(?:%|percent|[a-z]+s\b|of\b))",
               r"\1.\3 \2", t)
    t = re.sub(r"\b(\d{1,3}) (\d{2})(?= (?:(?:dollars?|bucks|pounds?|euros?) )?(?:an?|per) (?:hour|hr)\b)", r"\1.\2", t)
    marks = [(m.start(), m.end(), m.group(1)) for m in _CURRENCY_RE.finditer(t)]
    out = []
    for m in _NUMBER_RE.finditer(t):
        # "a six month lease", "12 weeks": a length of time, not an amount (unless marked "$6 month")
        if re.match(r"\s*(?:am|pm|a m\b|p m\b|st\b|nd\b|rd\b|th\b|%|percent)", t[m.end():]) or (
                re.match(r"\s*-?\s*(?:months?|years?|weeks?|days?|nights?|hours?|minutes?|pounds? (?:of|in weight))\b",
                         t[m.end():]) and not re.search(r"[$€£₹]\s?$", t[:m.start()])):
            continue
        # The currency said right before ("$250", "rs 500") or just after ("250 dollars a month").
        near = [w for s, e, w in marks if 0 <= m.start() - e <= 1 or 0 <= s - m.end() <= 3]
        amount = float(m.group(2).replace(",", "") + (m.group(3) or ""))
        if amount < 100 and not near and re.search(r"\d{4,}", t) and re.search(r"\b(?:k|thousand|grand|lakhs?)\b",
                                                                                 norm(text)):
            amount *= 1000 if not re.search(r"lakh", norm(text)) else 100000  # "eight to twelve k. call it ten"
        out.append((m.start(), {"amount": amount, "currency": _code(near[0], region) if near
                                else default or currency_of_region(region)}))
    return out


def named_currency(text: str, region: str = "US") -> str | None:
    """The one currency a conversation names ("invoice for three thousand two hundred euros"), which
    its bare amounts are in ("two grand now"); None when it names none or several."""
    # "she's small, like fifteen pounds": outside Britain pounds are a weight more often than money.
    codes = {_code(m.group(1), region) for m in _CURRENCY_RE.finditer(digits(text, pairs="money"))
             if not (m.group(1).startswith("pound") and (region or "").upper() != "GB")}
    return codes.pop() if len(codes) == 1 else None


def has_currency_word(text: str) -> bool:
    """A currency is named or marked ("$", "euros", "bucks"), so a bare number may be an amount."""
    return bool(_CURRENCY_RE.search(digits(text, pairs="money"))) or bool(
        re.search(r"\b(?:cents?|pence|paise|grand|k)\b", norm(text)))


def parse_currency(text: str, region: str = "US") -> dict | None:
    found = currencies_in(text, region)
    return found[-1][1] if found else None


_UNIT_SECONDS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400,
                 "week": 604800}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?|an?|half an?)\s*(second|sec|minute|min|hour|hr|day|week)s?\b"
                          r"(\s+and a half)?")


def durations_with_spans(text: str) -> list[tuple[int, int]]:
    """(position, seconds): 'an hour and forty-five minutes' -> 6300, adjacent units adding up."""
    # Rewritten at the same length, so positions still line up with `digits(text)`.
    t = re.sub(r"\b(an?|\d+) (hour|day|week)s? and a half\b",
               lambda m: f"{m.group(1)} {m.group(2)} 30 minute".ljust(len(m.group(0))), digits(text))
    t = t.replace("half an hour", "30 minute   ").replace("hour and a half", "hour 30 minute ")
    out: list[list[float]] = []
    last_end = None
    for m in _DURATION_RE.finditer(t):
        amount = {"a": 1, "an": 1}.get(m.group(1), 0.5 if m.group(1).startswith("half") else None)
        seconds = (amount if amount is not None else float(m.group(1))) * _UNIT_SECONDS[m.group(2)]
        if last_end is not None and re.fullmatch(r"[\s,]*(?:and)?\s*", t[last_end:m.start()]):
            out[-1][1] += seconds
        else:
            out.append([m.start(), seconds])
        last_end = m.end()
    return [(int(pos), int(round(seconds))) for pos, seconds in out]


def durations_in(text: str) -> list[int]:
    return [seconds for _, seconds in durations_with_spans(text)]


def parse_duration(text: str) -> int | None:
    found = durations_in(text)
    return found[-1] if found else None
