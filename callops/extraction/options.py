"""Enum options said without their name: by order ("the second one"), by what the offer said about
them ("the one with flood cover" after "upgrade to premium with flood cover"), by a word only one
option has ("deliver it" for home_delivery, "every quarter" for quarterly), or by a number inside a
range option ("about thirty people" for "11-50").

Read only for a reply to a question about the field, and only when the reply names no option
outright (`answers.enum_mentions`), so a passing word never overrides a plain answer.
"""

from __future__ import annotations

import math
import re

from callops.extraction import answers, parsing
from callops.extraction.enum_polarity import by_polarity
from callops.extraction.matching import _STOPWORDS, Profile, stem, stems

_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "former": 0, "latter": -1, "last": -1, "final": -1}
# "the second one", "the latter", "second option please"; not "last spring" or "the first time".
_ORDINAL = re.compile(r"\b(?:(?:the )?(first|1st|second|2nd|third|3rd|fourth|4th|last|final)(?: one| option| plan| choice|"
                      r" package| tier)|the (first|1st|second|2nd|third|3rd|fourth|4th|former|latter|last|final)"
                      r"(?=\s*(?:[,.!?]|$|please|i think|sounds|is|would|for|then|thanks|i guess)))")
# Words too common to tell options apart ("very satisfied" and "satisfied" share "satisfied";
# "very" is said everywhere).
_WEAK = _STOPWORDS | {"very", "really", "more", "less", "most", "least", "much", "quite", "plan", "option", "one", "other",
                      "none", "some", "each", "every", "per", "time", "good", "like", "want", "need", "yes", "not"}
_RANGE = re.compile(r"^\s*(\d[\d,]*)\s*(?:-|–|to)\s*(\d[\d,]*)\s*$")
_ABOVE = re.compile(r"^\s*(?:(\d[\d,]*)\s*(?:\+|or more|and (?:up|above|over)|plus)|(?:over|more than|above)\s+(\d[\d,]*))\s*$")
_BELOW = re.compile(r"^\s*(?:under|less than|fewer than|below|up to|<)\s*(\d[\d,]*)\s*$")


def _bounds(option: str) -> tuple[float, float] | None:
    if m := _RANGE.match(option):
        return float(m.group(1).replace(",", "")), float(m.group(2).replace(",", ""))
    if m := _ABOVE.match(option):
        low = float((m.group(1) or m.group(2)).replace(",", ""))
        return (low, math.inf) if m.group(1) else (low + 1, math.inf)
    if m := _BELOW.match(option):
        high = float(m.group(1).replace(",", ""))
        return (0.0, high if "up to" in option else high - 1)
    return None


def by_number(text: str, choices) -> str | None:
    """"About thirty people" for options written as ranges ("1-10", "11-50", "200+")."""
    bounds = {o: _bounds(o) for o in choices}
    if not any(bounds.values()):
        return None
    numbers = [n for n in parsing.numbers_in(text) if n is not None]
    if len(numbers) != 1:  # "between forty and sixty" or none: not one figure to place
        return None
    hits = [o for o, b in bounds.items() if b and b[0] <= numbers[0] <= b[1]]
    return hits[0] if len(hits) == 1 else None


def _offered(question: str, choices, synonyms) -> list[tuple[str, str]]:
    """The options a question (or a description) offers, in order, each with what it says about it
    ("upgrade to the premium plan with flood cover" -> upgrade_premium: "with flood cover")."""
    t = answers.norm(question)
    found = answers.enum_mentions(t, choices, synonyms)
    out, seen = [], set()
    for k, (start, option, _) in enumerate(found):
        if option in seen:
            continue
        seen.add(option)
        end = found[k + 1][0] if k + 1 < len(found) else len(t)
        segment = re.split(r"[.?!;]", t[start:end])[0]
        out.append((option, segment))
    return out


def _content(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z0-9']+", answers.norm(text).replace("_", " ")) if w not in _WEAK and len(w) > 2}


def by_order(reply: str, question: str, choices, synonyms) -> str | None:
    """"The second one", "the latter": the option at that place in the offer."""
    m = _ORDINAL.search(answers.norm(reply))
    offered = [o for o, _ in _offered(question, choices, synonyms)]
    if not m or len(offered) < 2:
        return None
    k = _ORDINALS[m.group(1) or m.group(2)]
    return offered[k] if -len(offered) <= k < len(offered) else None


def by_description(reply: str, texts, choices, synonyms) -> str | None:
    """"The one with flood cover": the option whose words in the offer (or the field's description)
    the reply uses, when only one option's do."""
    said = _content(reply)
    scores: dict[str, int] = {}
    for text in texts:
        offered = _offered(text, choices, synonyms)
        if len(offered) < 2:
            continue
        words = {o: _content(seg) - _content(answers.spoken(o)) for o, seg in offered}
        for option, own in words.items():
            others = set().union(*(w for o, w in words.items() if o != option))
            scores[option] = max(scores.get(option, 0), len((own - others) & said))
    best = max(scores.values(), default=0)
    hits = [o for o, s in scores.items() if s == best]
    return hits[0] if best and len(hits) == 1 else None


def _same_word(said: str, own: str) -> bool:
    """One word, however inflected: "deliver"/"delivery", "quarter"/"quarterly"."""
    if stem(said) == stem(own):
        return True
    short, long_ = sorted((said, own), key=len)
    if len(short) >= 5 and long_.startswith(short) and len(long_) - len(short) <= 3:
        return True
    # A kind of the thing said in one word: "peanut" or "walnut" for nut, "shellfish" for fish.
    return len(own) >= 3 and said.endswith(own) and 0 < len(said) - len(own) <= 5


# Words people use for the words options are written with ("filing together" for married_joint).
_WORD_SYNONYMS = {"joint": ("together", "jointly"), "separate": ("separately", "apart"),
                  "remote": ("home", "remotely"), "onsite": ("office",), "pickup": ("collect", "pick"),
                  "delivery": ("deliver", "drop"), "cancel": ("cancelling", "canceling", "stop"),
                  "renew": ("renewing", "continue", "keep"), "upgrade": ("upgrading",), "downgrade": ("cheaper",)}


def by_words(reply: str, choices) -> str | None:
    """The option most of whose words the reply says, when one option leads: "deliver it please" for
    home_delivery, "married, filing together" for married_joint over married_separate."""
    t = answers.norm(reply)
    said = [(m.start(), m.group(0)) for m in re.finditer(r"[a-z]+", t) if len(m.group(0)) >= 4 and m.group(0) not in _WEAK]
    scores = {}
    for option in choices:
        own = [w for w in answers.spoken(option).split() if len(w) >= 4 and w not in _WEAK]
        hit = 0
        for word in own:
            forms = (word, *_WORD_SYNONYMS.get(word, ()))
            for pos, w in said:
                if any(_same_word(w, f) for f in forms) and not answers._NEGATORS.search(t[max(0, pos - 14):pos]) \
                        and not _TURNED_DOWN.match(t[pos:pos + 40]):
                    hit += 1
                    break
        scores[option] = hit
    best = max(scores.values(), default=0)
    hits = [o for o, v in scores.items() if v == best]
    return hits[0] if best and len(hits) == 1 else None


# "fully onsite wouldn't be", "monday i have a thing", "mornings are tough": an option turned down
# where it is said.
_TURNED_DOWN = re.compile(r"[\w'-]+(?:\s+(?!but\b|and\b|or\b)[\w'-]+)?(?:(?:'s|'re|\s+is|\s+are)\s+(?:no|not)\b|\s+(?:no|nope)\W*(?:$|[.,!?])|"
                          r"(?:'s|'re|\s+is|\s+are)?\s+(?:doesn'?t|don'?t|won'?t|wouldn'?t|isn'?t|aren'?t|can'?t|is out|is bad|"
                          r"are bad|is taken|i have|i'?ve got|i'?m busy|(?:is|are) (?:a hassle|tough|hard|difficult|a pain|"
                          r"impossible|tricky|no good)|takes))")


def turned_down(text: str, position: int) -> bool:
    """The option said at `position` (in `answers.norm(text)`) is turned down right after it."""
    return bool(_TURNED_DOWN.match(answers.norm(text)[position:position + 40]))


def by_yes(reply: str, question: str, choices, synonyms) -> str | None:
    """"Would you prefer to continue in Spanish?" "Yes": the one option a yes/no question offers."""
    last = [s for s in re.split(r"(?<=[.!?])\s+", answers.norm(question)) if s][-1:] or [""]
    offered = {o for _, o, negated in answers.enum_mentions(last[0], choices, synonyms) if not negated}
    found = answers.bool_mentions(reply)
    return offered.pop() if len(offered) == 1 and found and found[0][1] else None


def loosely(reply: str, question: str, choices, synonyms=None, description: str = "") -> str | None:
    """The option a reply means without naming it, or None (also when it names any option, even to
    turn it down: "fully onsite wouldn't be" is no answer by other words)."""
    if answers.is_refusal(reply) or answers.enum_mentions(reply, choices, synonyms):
        return None
    return (by_order(reply, question, choices, synonyms)
            or by_number(reply, choices)
            or by_description(reply, [question, description], choices, synonyms)
            or by_words(reply, choices)
            or by_yes(reply, question, choices, synonyms)
            or by_polarity(reply, question, choices))


_MANNER = stems({"method", "way", "channel", "mode", "means", "format", "medium"})
_HOW = re.compile(r"\bhow (?:will|would|do|did|can|could|should|shall|are|is|'?d)\b|\b(?:which|what) way\b")


def asked_for(p: Profile, question: str) -> float:
    """What a question adds to an enum field's relevance beyond its words: options offered by their
    own words ("delivered to your home or collect it at the airport" for home_delivery and
    airport_pickup), or "how will you pay?" for a method of payment."""
    if p.item.kind != "enum":
        return 0.0
    bonus = 0.0
    if p.words_all & _MANNER and _HOW.search(question.lower()):
        bonus += 0.6
    if len({o for _, o, _ in answers.enum_mentions(question, p.options, p.item.synonyms)}) < 2:
        t = answers.norm(question)
        said = [w for w in re.findall(r"[a-z]+", t) if len(w) >= 4 and w not in _WEAK]
        words = {o: {x for x in answers.spoken(o).split() if len(x) >= 4 and x not in _WEAK} for o in p.options}
        named = [o for o, own in words.items()
                 if any(_same_word(w, x) for w in said for x in own - set().union(*(v for k, v in words.items() if k != o)))]
        if len(named) >= 2:
            bonus += 1.0
    return bonus


_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPANS = ((re.compile(r"\b(?:week ?days|weekday|mon(?:day)? (?:to|through|thru|-) fri(?:day)?)\b"), range(5)),
          (re.compile(r"\b(?:week ?ends?)\b"), range(5, 7)),
          (re.compile(r"\b(?:every ?day|any ?day|all week|seven days|7 days|daily|any day of the week)\b"), range(7)))


def _weekday(option: str) -> int | None:
    said = answers.spoken(option)
    said = answers._SHORT.get(said, said)
    return _WEEK.index(said) if said in _WEEK else None


def listed(text: str, choices, synonyms=None) -> list[str]:
    """The options a reply lists: each one named and not turned down, the days a span stands for
    ("weekdays except wednesday", "weekends"), and a part naming none by a word of its own ("my son
    has a peanut allergy" for nut_allergy)."""
    t = answers.norm(text)
    mentions = answers.enum_mentions(t, choices, synonyms)
    seen = [o for pos, o, negated in mentions if not negated and not turned_down(t, pos)]
    refused = {o for _, o, negated in mentions if negated}
    days = {d: o for o in choices if (d := _weekday(o)) is not None}
    if len(days) >= 5:
        for pattern, span in _SPANS:
            if pattern.search(t):
                seen += [days[d] for d in span if d in days]
    if not seen or len(seen) < len(answers.split_list(t)):
        for part in answers.split_list(t):
            if not answers.enum_mentions(part, choices, synonyms) and (hit := by_words(part, choices)):
                seen.append(hit)
    out: list[str] = []
    for option in seen:
        if option not in out and option not in refused:
            out.append(option)
    return out
