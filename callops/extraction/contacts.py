"""Email addresses and phone numbers in spoken text.

`email-validator` checks and normalises each address and `phonenumbers` reads each number in the
callee's country. Written here: how they are said aloud ("k dot nguyen eight eight at outlook dot
com", "n as in nancy", "double oh", numbers read in groups).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from number_parser import parse as _number_words

from .answers import norm

# Written here: spoken addresses ("k dot nguyen eight eight at outlook dot com", "n as in nancy",
# "all one word"); email-validator then checks and normalises each candidate.

_EMAIL_RE = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_Replacement = str | Callable[[re.Match[str]], str]
_SPOKEN_EMAIL: list[tuple[str, _Replacement]] = [
    (r"\b([a-z]) as in [a-z]+\b", r"\1"), (r"\s+(?:dot|period|point)\s+", "."),
    (r"\s*\b(?:underscore|under score)\b\s*", "_"), (r"\s*\b(?:dash|hyphen|minus)\b\s*", "-"),
    (r"\s*\bplus\b\s*", "+"),
    # "at lakeshore logistics dot com": the domain said as words, written as one.
    (r"\s+(?:at|@)\s+((?:[a-z0-9-]+ ){0,3}[a-z0-9-]+)(?=\.[a-z]{2,})",
     lambda m: "@" + m.group(1).replace(" ", ""))]


def emails_in(text: str) -> list[str]:
    t = " ".join(norm(text).replace(",", " ").split())
    # "use my work one": a pronoun, not a digit of the address.
    t = re.sub(r"\b(that|this|the|other|another|new|old|main|work|personal|private|business|home|school|office|"
               r"usual|right|wrong|same|first|second) one\b", r"\1 thing", t)
    if re.search(r"\bat\b|@", t):
        t = re.sub(r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b",
                   lambda m: _DIGIT_WORDS[m.group(1)], _number_words(t, language="en"))
    # "sharon dot b, just the letter b, at yahoo": the clarification of a letter is not part of the address
    t = re.sub(r"\s+(?:just |that'?s |thats )?(?:the )?letter [a-z]\b|\s+(?:all )?(?:lower ?case|in lower ?case|no spaces)\b",
               "", t)
    # A word spelled out after it ("whitfield, w-h-i-t-f-i-e-l-d") is said once in the address.
    t = re.sub(r"\b([a-z](?:-[a-z])+)\b", lambda m: m.group(1).replace("-", ""), t)
    t = re.sub(r"\b([a-z]{2,}) \1\b", r"\1", t)  # not a doubled letter spelled out ("k e l l y")
    for pattern, repl in _SPOKEN_EMAIL:
        t = re.sub(pattern, repl, t)
    # Letters and digits spelled one by one ("j o h n", "8 8") run together inside an address.
    t = re.sub(r"(?<![a-z0-9'])([a-z0-9])(?: (?=[a-z0-9](?![a-z0-9])))", r"\1", t)
    t = re.sub(r"([a-z0-9])\s+(?=\d+@)", r"\1", t)
    t = re.sub(r"(?<![a-z0-9'])([b-z]) (?=[a-z0-9._-]+@)", r"\1", t)  # an initial before the name: "j smith at"
    out = []
    for candidate in _EMAIL_RE.findall(t.replace(" @", "@").replace("@ ", "@")):
        try:
            out.append(validate_email(candidate.rstrip("."), check_deliverability=False).normalized.lower())
        except EmailNotValidError:
            continue
    return out


def parse_email(text: str) -> str | None:
    found = emails_in(text)
    return found[-1] if found else None


_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_PHONE_RE = re.compile(r"\+?\(?\d[\d\s().,-]{5,}\d")


def phones_in(text: str, region: str = "US") -> list[str]:
    """Every phone number as E.164, read in `region` unless a country code is said."""
    t = norm(text).replace("plus ", "+")
    t = re.sub(r"\b(double|triple) (\w+)\b", lambda m: " ".join([m.group(2)] * (2 if m.group(1) == "double" else 3)), t)
    t = _number_words(re.sub(r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b",
                             lambda m: _DIGIT_WORDS[m.group(1)], t), language="en")
    found = []
    for m in _PHONE_RE.finditer(t):
        candidate = m.group(0).rstrip(".,- ")
        parts = [candidate] + [p for p in re.split(r"[,;]", candidate) if p != candidate]
        for part in parts:
            number = _to_e164(re.sub(r"[^\d+]", "", part), region)
            if number:
                found.append(number)
                break
    return found


def _to_e164(digits_only: str, region: str) -> str | None:
    if len(digits_only.lstrip("+")) < 7:
        return None
    try:
        number = phonenumbers.parse(digits_only, (region or "US").upper())
    except phonenumbers.NumberParseException:
        return None
    # A number of the right length for its country is taken even when the numbering plan has not
    # allocated it (the 07700 900xxx range the UK keeps for drama, test ranges): the callee said it.
    if not (phonenumbers.is_valid_number(number) or phonenumbers.is_possible_number(number)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_phone(text: str, region: str = "US") -> str | None:
    found = phones_in(text, region)
    return found[-1] if found else None
