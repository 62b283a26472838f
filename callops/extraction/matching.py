"""How the rules extractor ties what was said to a field: words, synonyms, cues and values.

A field's profile is the words of its name and description, their common synonyms in outbound
calls, the cues of its type ("how many", "what time") and its polarity ("do_not_call" is a
negative field: "correct" to "you don't want to hear from us?" makes it true). The helpers read
one turn: the values of a field's type in it, which of several values goes to which field, a yes
or no against the question. Free-text answers are read in `free_text.py`.
"""

from __future__ import annotations

import re
from typing import Any, cast

from callops.extraction import amounts, answers, approvals, contacts, parsing, times_of_day
from callops.extraction.clauses import asked_part, problem_answer, rather
from callops.extraction.conditions import without_conditions
from callops.extraction.counts import said_in_words
from callops.extraction.schema import Field

_STOPWORDS = set("""a an the of for to do does did is are was were be been has have had by in on at and or with their
your my our his her its this that these those it they them we you i me he she from as if any some will would
can could should shall may might about into over than then so just also only very what which who whom whose
when where why how there here not no yes whether callee caller customer user person value""".split())
# Words that stand for one another in outbound calls; a question using one is about a field
# named with another.
_LEXICON = [
    {"people", "person", "guest", "party", "join", "group", "headcount", "size", "adult", "seat", "many"},
    {"employee", "staff", "people", "headcount", "work", "team", "company", "size", "big", "large", "worker"},
    {"amount", "much", "cost", "price", "pay", "payment", "budget", "spend", "rate", "fee", "charge", "balance",
     "owe", "afford", "premium", "salary", "dollar", "money", "quote", "paid"},
    {"email", "mail", "inbox", "send"}, {"phone", "cell", "mobile", "reach", "call", "contact", "text"},
    {"confirm", "attend", "make", "come", "still", "keep"},
    {"interest", "interested", "want", "like", "keen", "consider", "open"},
    {"reason", "why", "because", "cause", "happen", "issue", "problem", "wrong", "complaint"},
    {"renew", "continue", "stay", "keep", "cancel"}, {"start", "begin", "available", "join", "when"},
    {"experience", "year", "long", "work", "worked"}, {"recommend", "refer", "suggest", "friend"},
    {"score", "rate", "rating", "scale", "satisfy", "satisfied", "satisfaction", "ten", "overall"},
    {"decision", "decide", "sign", "approve", "authority", "maker", "signoff", "final", "charge", "boss", "owner"},
    {"name", "who", "call", "called"}, {"address", "where", "street", "live", "located", "deliver"},
    {"duration", "long", "minute", "hour"}, {"employer", "company", "work", "job", "currently"},
    {"home", "there", "present", "someone", "available", "receive"},
    {"callback", "call", "back", "reach", "later", "time", "best"},
    {"stop", "remove", "list", "contact", "call", "unsubscribe", "opt"},
    {"allergy", "allergic", "dietary", "diet", "food"},
    {"title", "role", "position", "job"}, {"provider", "carrier", "insurer", "supplier", "vendor", "with"},
    {"language", "speak", "prefer"}, {"referral", "source", "hear", "heard", "find", "found"},
    {"city", "move", "moving", "where", "relocate"}, {"vehicle", "car", "make", "model", "drive"},
    {"payer", "pay", "paying", "who"}, {"unavailable", "good", "time", "now", "busy"},
    {"robot", "machine", "bot", "ai", "human", "automated", "recording", "computer", "artificial", "real"}, {"child", "children", "kid", "son", "daughter", "minor"}, {"seating", "seat", "table", "sit", "inside", "outside"},
]
# "remove me from the list" is an opt-out; "remove the old appliance" is an ordinary request.
_REMOVE_ME = (r"remove(?:d)? (?:me|us|you|them|him|her|my|this|the number|(?:\w+ )?from)|"
              r"take (?:me|us|you|them|him|her|(?:this|the|your|my) number) off|opt (?:me |you |us )?out")
# Out of order is the negative of working: "was the atm out of service?" "yep" makes atm_working false.
_BROKEN = r"|broken|out of (?:service|order)|not working"
_NEGATIVE_FIELD = re.compile(r"\b(?:not|no|dont|don't|do_not|never|stop|opt_?out|unsubscribe" + _BROKEN + "|" + _REMOVE_ME
                             + r"|decline)\b|^do_?not")
_NEGATIVE_QUESTION = re.compile(r"\b(?:don'?t|dont|do not|not|no longer|never|stop" + _BROKEN + "|" + _REMOVE_ME
                                + r"|off (?:the|your|our)(?: \w+)? list)\b")
_PAST_FIELD = re.compile(r"\b(?:birth|born|dob|last|previous|ago|since|past|prior|was|were|happened|used)\b")
EVENING = re.compile(r"\b(?:dinner|supper|evening|tonight|night|drinks|bar|restaurant|table|reservations?|trattoria|bistro|"
                     r"brasserie|pizzeria|steakhouse|tavern|osteria|taverna|cantina)\b")
_CUES = {
    "email": r"\be-?mail\b", "phone": r"\b(?:phone|number|cell|mobile|reach you|contact)\b",
    "date": r"\b(?:when|what day|which day|date|day)\b", "datetime": r"\b(?:when|what time|which day|day|date|time)\b",
    "time": r"\b(?:what time|when|time|o'?clock)\b", "integer": r"\bhow (?:many|old|big|large)\b|\bscale\b",
    "number": r"\bhow (?:many|much|long|big|large)\b|\bscale\b", "currency": r"\bhow much\b|\b(?:pay|cost|budget|price|amount)\b",
    "duration": r"\bhow long\b", "boolean": r"^\W*(?:and\s+|so\s+)?(?:are|is|do|does|did|can|could|will|would|have|"
                                            r"has|should|shall|may|was|were)\b",
}
CORRECTION = re.compile(r"\b(?:call it|let'?s say|say|actually|no wait|wait|sorry,? i mean|i mean|make it|make that|instead|rather|"
                        r"no no|scratch that|change that|on second thought|ideally|maybe|more like|or rather|no(?=[,.])|"
                        r"(?<=[.!?] )well(?=,)|well(?=,? \d))\b")  # "three times well four": speech-to-text has no commas
REJECT = re.compile(r"^\W*(?:no|nope|nah|not|wrong|that's wrong|incorrect|actually)\b")
_MONEY_WORDS = {"amount", "cost", "price", "pay", "payment", "budget", "spend", "rate", "fee", "charge", "balance",
                "premium", "salary", "dollar", "money", "quote", "deposit", "rent", "income", "revenue", "owe"}
_START = {"start", "begin", "from", "earliest", "arrival", "arrive", "first", "min", "minimum", "low", "lower",
          "open", "checkin", "check_in", "in", "departure_from", "initial"}
_END = {"end", "finish", "to", "until", "latest", "departure", "depart", "leave", "second", "max", "maximum", "high",
        "upper", "close", "checkout", "out", "last", "final", "remain", "remainder", "rest", "balance"}
CLARIFY = re.compile(r"\b(?:repeat|say that again|come again|did you say|is that right|is that correct|just to "
                      r"confirm|to confirm|you mean|catch that|one more time|(?<!i'm )(?<!im )(?<!so )sorry(?! to hear| about| for))\b|\b(?:right|correct)\?")
OFFER = re.compile(r"\b(?:or|options?|available|openings?|we have|i have|choose|prefer|either)\b")


_IRREGULAR = {"using": "use", "used": "use", "uses": "use", "children": "child", "people": "people"}


def stem(word: str) -> str:
    word = word.lower().strip("'")
    if word.endswith("'s"):
        word = word[:-2]
    if word in _IRREGULAR:
        word = _IRREGULAR[word]
    for suffix, repl in (("ees", "ee"), ("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)] + repl
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # "transferred" -> "transfer"
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word  # "moved", "move" -> "mov"


def stems(words) -> set[str]:
    return {stem(w) for w in words}


# The word lists above are written as people say them and compared as stems.
_LEXICON = [stems(group) for group in _LEXICON]
_MONEY_WORDS, _START, _END = stems(_MONEY_WORDS), stems(_START), stems(_END)


def _words(text: str) -> set[str]:
    raw = re.findall(r"[a-z0-9']+", text.lower())
    return {stem(w) for w in raw} | {stem(a + b) for a, b in zip(raw, raw[1:], strict=False)}


def _content(text: str, keep=()) -> set[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text).replace("_", " ").replace("-", " ")
    words = [w for w in re.findall(r"[a-z0-9']+", spaced.lower()) if w not in _STOPWORDS or w in keep]
    return {stem(w) for w in words}


# Small words that tell two fields apart ("from_city", "to_city"): kept in names, weighed lightly.
_DIRECTIONS = {"from", "to", "before", "after", "first", "last", "when", "where", "why", "who", "how"}


class Profile:
    """What a field is about: its words, their synonyms, its type's cues, its polarity."""

    def __init__(self, name: str, spec: Field, region: str, when, evening: bool):
        self.name, self.spec, self.region, self.when = name, spec, region, when
        self.currency: str | None = None  # the one the conversation names, for bare amounts
        self.kind = spec.kind if spec.kind != "list" else "list"
        # A list field's item type (schema validation requires one), else the field itself.
        self.item: Field = cast(Field, spec.item) if spec.kind == "list" else spec
        self.name_words = (_content(name) or {stem(name)}) | ({"checkin"} if "check_in" in name else set()) \
            | ({"checkout"} if "check_out" in name else set())
        self.small_words = _content(name, keep=_DIRECTIONS) - self.name_words
        self.desc_words = _content(spec.description) - self.name_words
        base = self.words_all = self.name_words | self.desc_words
        self.related = set().union(*[g for g in _LEXICON if g & base]) - base if base else set()
        text = f"{name} {spec.description}".lower()
        self.negative = bool(_NEGATIVE_FIELD.search(without_conditions(text).replace("_", " "))) or name.lower().startswith("do_not")
        self.past = bool(_PAST_FIELD.search(text.replace("_", " ")))
        self.evening = evening or bool(EVENING.search(text))
        cue = _CUES.get(self.item.kind)
        self.cue = re.compile(cue) if cue else None
        self.options = self.item.values if self.item.kind == "enum" else ()
        bounds = re.search(r"\b(\d+)\s*(?:-|–|to)\s*(\d+)\b", spec.description)
        self.range = (int(bounds.group(1)), int(bounds.group(2))) if bounds and spec.kind in ("integer", "number") \
            else None
        self.start_like = bool(self.words_all & _START) and not self.words_all & _END
        self.end_like = bool(self.words_all & _END) and not self.words_all & _START

    def matched(self, said: set[str]) -> set[str]:
        return (self.name_words | self.desc_words | self.related) & said

    def cue_hit(self, text: str) -> bool:
        return self.cue is not None and bool(
            self.cue.search(text.lower()) if self.item.kind != "boolean" else asks_yes_no(text))

    def overlap(self, text: str) -> bool:
        """The text uses one of the field's words or their synonyms (not only its type's cues)."""
        return bool((self.name_words | self.desc_words | self.related) & _words(text))

    def relevance(self, text: str) -> float:
        words = _words(text)
        score = 1.0 * len(self.name_words & words) + 0.6 * len(self.desc_words & words) \
            + 0.4 * len(self.small_words & set(re.findall(r"[a-z]+", text.lower()))) \
            + 0.35 * min(2, len(self.related & words))
        if self.cue and (self.cue.search(text.lower()) if self.item.kind != "boolean" else asks_yes_no(text)):
            score += 0.5
        if self.options and len({o for _, o, _ in answers.enum_mentions(text, self.options, self.item.synonyms)}) >= 2:
            score += 1.0
        if self.item.kind == "string" and self.words_all & REASON_WORDS and _ASKS_WHY.search(text.lower()):
            score += 1.2  # "What brought the score down?" asks for the reason, whatever its words
        if self.item.kind == "string" and is_name_field(self) and re.search(
                r"\bwho\b|\b(?:his|her|their|the|your) name\b|\bname\b", text.lower()):
            score += 0.5  # "Do you remember who served you?" asks for a name
        return score

    def named_in(self, text: str, words: set[str]) -> bool:
        return self.name_words <= {stem(w) for w in words}

    def near(self, text: str, position: int, span: int = 48) -> float:
        """How much the words around a value in the text are this field's words."""
        t = parsing.digits(text)
        window = _words(t[max(0, position - span):position + span // 2])
        return len(self.name_words & window) + 0.6 * len(self.desc_words & window) + 0.3 * len(self.related & window)

    # --- values in one turn -------------------------------------------------------------------

    def values(self, text: str, digit_form: bool = False) -> list[tuple[int, Any]]:
        """(position, value) of every value of this field's type in the text."""
        kind = self.item.kind
        if kind in ("number", "integer"):
            t = parsing.digits(text)
            found = [(p, v) for p, v in parsing.numbers_with_spans(text) if kind == "number" or float(v).is_integer()]
            if not self.words_all & _MONEY_WORDS:  # "$189 a night" is not a count of nights
                found = [(p, v) for p, v in found if not re.search(r"[$€£₹]\s?$", t[max(0, p - 2):p])
                         and not re.match(r"\S+\s+(?:dollars?|euros?|pounds?|rupees?|bucks)\b", t[p:])]
            # "the third floor" for a floor number: an ordinal before the field's own word.
            found += [(m.start(), int(m.group(1))) for m in re.finditer(r"\b(\d{1,3})(?:st|nd|rd|th) (\w+)", t)
                      if stem(m.group(2)) in self.name_words]
            found = found or said_in_words(t, self.name_words, stem)  # "once a week", "a month's notice"
            if self.range:
                found = [(p, v) for p, v in found if self.range[0] <= v <= self.range[1]]
            return sorted(found, key=lambda f: f[0])
        if kind == "currency":
            money = amounts.currencies_in(text, self.region, self.currency)
            if self.words_all & stems({"salary", "income", "compensation", "ctc", "revenue", "base"}):
                # "one eighty-five base": salaries are said in thousands.
                money = [(p, dict(v, amount=v["amount"] * 1000) if v["amount"] < 1000 else v) for p, v in money]
            return money
        if kind == "duration":
            return amounts.durations_with_spans(text)
        if kind == "date":
            return [(p, d.isoformat()) for p, d in parsing.dates_with_spans(text, self.when, self.past, self.region)]
        if kind == "time":
            return [(p, f"{h:02d}:{m:02d}") for p, (h, m) in times_of_day.times_with_spans(text, self.evening)]
        if kind == "email":
            return [(0, e) for e in contacts.emails_in(text)]
        if kind == "phone":
            return [(0, n) for n in contacts.phones_in(text, self.region)]
        if kind == "enum":
            return [(p, o) for p, o, negated in answers.enum_mentions(text, self.options, self.item.synonyms)
                    if not negated]
        return []


def assign(profiles: list[Profile], text: str) -> dict[str, list[tuple[int, object]]]:
    """Several fields of one type and several values in one turn: each value to the field whose words
    stand nearest, the rest in order ("two fifty then and the rest end of the month")."""
    if len({p.options for p in profiles}) > 1:
        # Enum fields with options of their own: each reads its own options, none shares them out.
        return {p.name: kept(text, p.values(text)) for p in profiles}
    found = kept(text, profiles[0].values(text))  # a value turned down ("today no") goes to no field
    if len(profiles) == 1 or len(found) <= 1:
        return {p.name: found for p in profiles}
    out: dict[str, list] = {p.name: [] for p in profiles}
    taken = set()
    # The field's words near the value, and the noun counted ("3 bedrooms" vs "2 kids"); ties go to
    # the value said first.
    t = parsing.digits(text)

    def rest_fit(p: Profile, pos: int) -> float:
        """"... and the rest at the end of the month": what follows "the rest" is the later of two parts."""
        if not re.search(r"\b(?:the rest|the remainder|remaining|the balance|the other half)\b", t[max(0, pos - 30):pos]):
            return 0.0
        return 1.0 if p.end_like else -1.0 if p.start_like else 0.0

    pairs = sorted(((p.near(text, pos) + unit_fit(p, text, pos) + rest_fit(p, pos), -i, -j) for i, p in enumerate(profiles)
                    for j, (pos, _) in enumerate(found)), reverse=True)
    done = set()
    for score, i, j in pairs:
        i, j = -i, -j
        if score <= 0 or i in done or j in taken:
            continue
        out[profiles[i].name] = [found[j]]
        done.add(i)
        taken.add(j)
    rest = [v for j, v in enumerate(found) if j not in taken]
    # Unplaced values go in the order said: a start-like field first, an end-like one last.
    order = sorted(range(len(profiles)), key=lambda i: (profiles[i].end_like - profiles[i].start_like, i))
    for i in order:
        if i not in done and rest:
            out[profiles[i].name] = [rest.pop(0)]
    return out


def yes_no(profile: Profile, reply: str, question: str) -> bool | None:
    """A reply's yes or no for a boolean field, read against the question's polarity."""
    if (fine := problem_answer(reply, question, f"{profile.name} {profile.spec.description}")) is not None:
        return fine != profile.negative  # "would moving be an issue?" "no, that's fine"
    # "Not today" to "can you pay today?" is a no; the field's own words are masked otherwise.
    masked = re.sub(r"\bnot ([A-Za-z']+)", lambda m: "no" if stem(m.group(1)) in profile.name_words else m.group(0),
                    answers.norm(reply))
    masked = re.sub(r"[A-Za-z']+", lambda m: "…" if stem(m.group(0)) in profile.name_words else m.group(0), masked)
    mentions = answers.bool_mentions(masked)
    if re.search(r"\b(?:do|did) you (?:\w+ )?(?:know|recogni[sz]e|remember)\b", answers.norm(question)) and \
            _DONT_KNOW.search(answers.norm(reply)) and not mentions:
        mentions = [(0, False)]  # "Do you know him?" "No idea.": not a refusal, a no
    if not mentions and (implied := approvals.contrary(f"{profile.name} {profile.spec.description}", reply)) is not None:
        mentions = [(0, implied)]  # "on time?" "he was about an hour late"
    if not mentions and (implied := approvals.implied(answers.norm(reply))) is not None:
        mentions = [(0, implied)]  # "friday morning works", "mornings are hard for me"
    if not mentions and (preferred := rather(reply, question)) is not None:
        mentions = [(0, preferred)]  # "would you move for it?" "i'd rather stay in manchester"
    if not mentions and (echoed := answers.aux_reply(masked)) is not None:
        mentions = [(0, echoed)]  # "he was lovely", "we'll get a taxi"... read by the clause's negation
    if not mentions and _DECLINED.search(answers.norm(reply)):
        mentions = [(0, False)]  # "Would you like a reminder?" "I'd rather not.": declining the offer
    if answers.is_refusal(reply) and not mentions:
        return None
    value = None
    if mentions:
        value = mentions[0][1]
        # A correction changes an answer already given: "No. I can do two hundred" opens on its answer.
        correction = next((m for m in CORRECTION.finditer(answers.norm(reply)) if mentions[0][0] < m.start()), None)
        if correction:
            # "Yes. Actually no, I can't": the answer after the correction, not the "no" that marks it.
            after = [v for p, v in mentions if p > correction.start()]
            value = after[-1] if after else value
    if value is None and profile.words_all & _ATTEND and _MOVE.search(answers.norm(reply)):
        value = False  # "Will you be able to come?" "Can I come in the evening instead?"
    q, r = answers.norm(question), answers.norm(reply)
    # "do you own or rent?", "do you own your home or rent?": the verbs are the choices
    either = re.search(r"\b([a-z]+)(?: (?:your|the|a|an|it|this|that|my|our)(?: [a-z]+)?)? or ([a-z]+)\b", last_sentence(q))
    if value is None and either:
        # "Do you own or rent?" "We rent.": the other choice is a no to own_home.
        first, second = stem(either.group(1)), stem(either.group(2))
        mine, other = (first, second) if first in profile.words_all else \
            (second, first) if second in profile.words_all else ("", "")
        said = {stem(w) for w in re.findall(r"[a-z']+", r)}
        if mine and other in said and mine not in said:
            value = False
        elif mine and mine in said:
            value = True
    if value is None and re.search(r"\bany(?:thing|one|body)?\b", last_sentence(q)) and not answers.is_refusal(r) and \
            not answers.is_non_answer(r) and len(re.findall(r"[a-z0-9]+", r)) >= 2 and \
            not re.search(r"\b(?:not|no|never|none|nothing|nobody)\b|n'?t\b", r):
        value = True  # "Any pets?" "Just a cat." / "Any claims?" "One, a fender bender."
    if value is None:
        value = echo(profile, reply)
        return value  # the field's own words carry the polarity
    # "... so you don't get a call like this?" and "if no one answers, should we call?" ask positive questions
    asked = without_conditions(asked_part(question))
    negative_question = bool(question and _NEGATIVE_QUESTION.search(asked))
    if negative_question and _NEGATED.search(last_sentence(asked)):
        # A negative question ("you don't have any pets, right?") is answered about its statement:
        # "actually we will" / "yes I do" says it is wrong; "no, no pets" / "no, I don't" repeats the
        # negation and so agrees with it. A bare "no" keeps the reading below (no, that's not so).
        r = answers.norm(reply)
        if _CONTRADICTS.search(r):
            value = False
        elif mentions and not mentions[0][1] and (sum(not v for _, v in mentions) >= 2 or re.search(
                r"\b(?:not|never|none|nothing|nobody)\b|n'?t\b", r[mentions[0][0] + 2:])):
            value = True
    if negative_question != profile.negative:
        value = not value
    return value


# Declining what was asked, not declining to answer ("I'd rather not say").
_DECLINED = re.compile(r"\b(?:rather|prefer(?:red)?) not\b(?!(?: to)? (?:say|answer|share|give|tell|disclose|comment|discuss|get into))")
_NEGATED = re.compile(r"\b(?:not|never|no longer)\b|n'?t\b|\b(?:dont|wont|arent|isnt|havent|didnt|cant)\b")
_CONTRADICTS = re.compile(r"\b(?:yes|yeah|actually),? (?:i|we|they|he|she) (?:do|will|would|am|are|is|can|did|have|does|need|want)"
                          r"\b(?!\s*(?:not|n'?t)\b)|^\W*(?:well,? |oh,? )?(?:actually,? )?(?:i|we) (?:do|will|am|are|can|did)\b"
                          r"(?!\s*(?:not|n'?t)\b)")


_ATTEND = stems({"attend", "come", "make", "keep", "confirm", "confirmed", "original", "originally", "still", "show"})
_MOVE = re.compile(r"\b(?:can|could) (?:i|we) (?:come|do|move|change|make it|switch|push|go)\b|\b(?:how|what) about\b|"
                   r"\binstead\b|\breschedul|\b(?:another|a different|some other) (?:day|time|date|slot)\b|"
                   r"\bmove it\b|\bpush it\b")
_DONT_KNOW = re.compile(r"\b(?:no idea|no clue|(?:i )?(?:don'?t|dont|do not) know|never heard|not that i know|dunno|"
                        r"no conozco|não conheço)\b")


def who(reply: str) -> bool | None:
    """A boolean asked as "who would sign off?": the callee themselves, or someone else."""
    t = answers.norm(reply)
    if re.search(r"\b(?:my|our|the) (?:boss|manager|vp|cfo|ceo|cto|coo|md|gm|owner|director|partner|wife|husband|"
                 r"board|head|supervisor|committee|dad|mum|mom|father|mother|president|principal|founder)\b|"
                 r"\b(?:he|she|they) (?:signs?|decides?|approves?|has the last|have the last)|\bbut (?:he|she|they)\b", t):
        return False
    if re.search(r"\b(?:that'?s me|that'?d be me|thatd be me|me\b|i do|i can|i will|i would|i am|i'?m the|myself|"
                 r"i make|i decide|i sign|i approve|i handle)\b", t) and not re.search(r"\bbut (?:he|she|they)\b", t):
        return True
    if re.search(r"\b(?:my|our|the) (?:boss|manager|vp|cfo|ceo|owner|director|partner|wife|husband|board|head|"
                 r"supervisor|team|committee|dad|mum|mom|father|mother)\b|\b(?:he|she|they) (?:signs?|decides?|approves?)",
                 t):
        return False
    # "our geschäftsführer decides", "the regional office signs off": someone named by role, not "i".
    if re.search(r"\b(?:my|our|the|his|her)\s+(?:\S+\s+){0,2}?(?:decides?|signs?|approves?|makes? the (?:call|decision)|"
                 r"has the (?:final|last) (?:say|word)|calls the shots)\b|\b(?:for|to) (?:him|her|them)\b|"
                 r"\b(?:not me|isn'?t me|not my (?:call|decision))\b", t):
        return False
    return None


def echo(profile: Profile, reply: str):
    """An answer that uses the field's words: "Not urgent" / "You got the wrong number"."""
    words = re.findall(r"[a-z0-9']+", reply.lower())
    found = None
    for i, word in enumerate(words):
        if stem(word) in profile.name_words:
            before = words[max(0, i - 3):i]
            found = not any(w in ("not", "no", "never", "dont", "isnt") or w.endswith("n't") for w in before)
            # "the atm was broken" says atm_working is false
            if re.match(r"(?:\w+ ){0,2}?(?:broken|out of (?:service|order)|not working|down)\b",
                        " ".join(words[i + 1:i + 5])) and not profile.negative:
                found = False
    return found


_NAME_FIELD = stems({"name", "who", "contact", "person", "receiver", "recipient", "technician", "advisor", "agent",
                      "rep"})
def is_name_field(profile: Profile) -> bool:
    """A person's name: named so ("receiver_name") or described so ("name of the person to ask for")."""
    return bool((profile.name_words & _NAME_FIELD or stem("name") in profile.desc_words)
                and not profile.words_all & stems({"business", "company", "employer", "firm", "insurer", "provider"}))


_ASKS_WHY = re.compile(r"\bwhy\b|\bhow come\b|\bwhat (?:happened|brought|made|went wrong|was wrong|"
                       r"was the (?:main |biggest )?(?:problem|issue|reason))\b")
REASON_WORDS = stems({"reason", "why", "cause", "complaint", "issue", "problem", "because"})


SPECIFIC = {"date", "datetime", "time", "email", "phone", "currency", "enum", "duration"}
_AUX_SUBJECT = re.compile(r"\b(?:are|is|do|does|did|can|could|will|would|have|has|should|shall|was|were|may|am)\s+"
                          r"(?:you|that|it|this|there|he|she|we|they|your|the|everything|anyone|someone|anything|"
                          r"anybody|somebody|something|everyone|i|now|today|tomorrow|this)\b")
# "sorry about that were any items damaged", "would a payment plan help": an auxiliary and a subject
# with its determiner ask only where a clause starts, not in "your total is a hundred dollars".
_AUX_DETERMINER = re.compile(r"(?:^|[,;:]\s*|\b(?:that|so|and|okay|ok|great|thanks|then|now|also|right|well|sorry|"
                             r"alright|perfect|sure|noted|lovely|understood)\s+)(?:are|is|do|does|did|can|could|will|"
                             r"would|should|shall|was|were)\s+(?:any|a|an|my|our|his|her|their|these|those|all|some)\b")
# A sentence that opens on an auxiliary and ends on "?" asks for a yes or no ("Is now a good time?").
_AUX_FIRST = re.compile(r"^\W*(?:(?:and|so|also|ok|okay|great|perfect|thanks|thank you|sorry|then|well|now|oh|right)"
                        r"[,\s]+)*(?:is|are|do|does|did|can|could|will|would|have|has|should|shall|was|were|may|am|"
                        r"might|must|isn'?t|aren'?t|don'?t|doesn'?t|didn'?t|won'?t|wouldn'?t|can'?t|haven'?t)\b")
_WH = re.compile(r"\b(?:what|when|where|which|who|whom|how|why)\b")
_YES_NO_END = re.compile(r"\b(?:right|correct|yes or no|is that|isn'?t it|okay|ok|yeah)\W*$|\b(?:just )?to confirm\b|"
                         r"\bconfirm\b|^\W*(?:\w+,\s+)?(?:and |so |also )*(?:any|anything)\b|"
                         # "vegan and gluten free got it any nut allergies": unpunctuated, after an acknowledgement
                         r"\b(?:got it|noted|perfect|lovely|great|thanks|thank you)\W+(?:and |so |also )*(?:any|anything)\b"
                         r"(?!.*\b(?:what|when|where|which|how|who)\b)")


# Asked as a statement, as agents do in speech-to-text: "and youre ok with a text reminder", "happy
# for us to leave it with a neighbour", "how about a quick demo", "shall i go ahead and renew".
_DECLARATIVE = re.compile(r"^\W*(?:(?:and|so|ok|okay|great|perfect|then|right)[,\s]+)*(?:you'?re|youre|you are|you'?ll|youll|"
                          r"you will|you'?d be|youd be|you'?ve|youve|happy|ok|okay|alright|fine|good) (?:\w+ )?"
                          r"(?:ok|okay|fine|happy|good|with|for|to|be|still|going|planning|able|home|there|in)\b|"
                          r"^\W*(?:(?:and|so|ok|okay)[,\s]+)*(?:how about|what about|shall (?:i|we)|want me to|would it be ok|"
                          r"is it ok|ok if|okay if|mind if)\b|\b(?:just )?calling to confirm\b|"
                          # A negative statement about the callee is asked for a yes or no ("so you won't need
                          # parking?", "and you dont have any pets"): agents say these as questions.
                          r"^\W*(?:(?:and|so|ok|okay|just to confirm|to confirm)[,\s]+)*(?:you|you'?re|youre) (?:still )?"
                          r"(?:won'?t|wont|don'?t|dont|do not|aren'?t|arent|are not|not|can'?t|cant|cannot|didn'?t|didnt|"
                          r"haven'?t|havent|will not|wouldn'?t|wouldnt|no longer|never)\b")


def asks_yes_no(text: str) -> bool:
    """The last sentence asks for a yes or no: an auxiliary and its subject ("are you still able",
    "first, on the appointment: is that a yes") with no question word before it, or a tag ("right?")."""
    sentence = last_sentence(text)
    m = _AUX_SUBJECT.search(sentence)
    if m and not _WH.search(sentence[:m.start()]):
        return True
    m = _AUX_DETERMINER.search(sentence)
    if m and not _WH.search(sentence[:m.start()]):
        return True
    if sentence.rstrip().endswith("?") and _AUX_FIRST.match(sentence) or _DECLARATIVE.search(sentence):
        return True
    return bool(_YES_NO_END.search(sentence))


def asks_back(text: str) -> bool:
    """The callee answers with a question of their own ("wait is that the one with doctor hale")."""
    t = re.sub(r"^(?:wait|sorry|um+|uh+|oh|hold on|hang on|hmm+|so)[,\s]+", "", answers.norm(text))
    return text.rstrip().endswith("?") or bool(_AUX_FIRST.match(t) and _AUX_SUBJECT.match(t)) or \
        bool(re.match(r"(?:what|when|where|which|who|how|why)\b", t))


CLOSING = re.compile(r"\b(?:anything else|that'?s everything|that'?s all|have a (?:great|good|nice)|goodbye|bye)\b")
_UNITS = re.compile(r"\s*(?:\w+\s)?(people|persons?|guests?|adults?|kids?|children|seats?|floors?|days?|weeks?|months?|"
                    r"years?|hours?|minutes?|nights?|bedrooms?|rooms?|times?|percent|%|feet|square|miles?|km|"
                    r"employees?|staff|users?|calls?|items?|boxes|pallets?|cases?|dollars?|euros?|pounds?|rupees?|"
                    r"bucks|k)\b")


OPT_OUT = re.compile(
    r"\b(?:(?:take|remove|delete|get) (?:me|us|this number|my number|my name)(?: \w+)? (?:off|from)|do not (?:call|contact)|"
    r"don'?t (?:you )?(?:ever )?(?:call|ring|contact|text|phone) (?:me|us|this number|here|again|back)|"
    r"(?:not|never) (?:to )?(?:call|ring|contact) (?:me|us|this number|here)(?: again)?|stop (?:calling|contacting|texting|ringing)|"
    r"(?:no|not|never) (?:more )?(?:calls|call me|contact me) again|never call|do not call list|dnc|unsubscribe|opt (?:me )?out|"
    r"put me on (?:the|your) (?:do not call|dnc)|lose (?:this|my) number|leave me alone|not to be called)\b")
IS_THEM = re.compile(r"^\W*(?:\w+\W+)?(?:yes|yeah|yep|speaking|this is (?:she|he|him|her|me)|that'?s me|thats me|"
                      r"it'?s me|you'?ve got (?:him|her|me)|that would be me)\b|\bspeaking\b|\bthis is (?:she|he|him|her)\b")
NOT_THEM = re.compile(r"\b(?:wrong number|no one (?:by|of) that name|nobody (?:by|of) that name|not here|isn'?t here|"
                       r"no \w+ here|doesn'?t live here|don'?t know (?:any|a|who)|this is (?:his|her|their) \w+|"
                       r"not (?:him|her|me)|you have the wrong|you'?ve got the wrong|moved out|passed away|"
                       # "No, he's my brother. He's not in right now."
                       r"(?:he|she)(?:'?s| is) (?:my|our) \w+|(?:he|she)(?:'?s| is) (?:not|out)(?: (?:in|here|home|around|available))?)\b")


_KIN = (r"(?:son|daughter|wife|husband|partner|mother|father|mum|mom|dad|brother|sister|cousin|aunt|uncle|nephew|niece|"
        r"grandson|granddaughter|grandmother|grandfather|grandma|grandpa|nan|flatmate|roommate|housemate|room mate|"
        r"neighbou?r|friend|colleague|coworker|co-worker|boss|employee|tenant|landlord|landlady|carer|caregiver|"
        r"girlfriend|boyfriend|fiancee?|stepson|stepdaughter|in-law|ex|ex-wife|ex-husband|assistant|secretary)")
# How the person on the line relates to the one sought: "this is her son", "he was my flatmate".
RELATION = re.compile(rf"\b(?:i'?m|i am|this is|it'?s|he'?s|she'?s|he is|she is|he was|she was|they'?re|they are|"
                      rf"they were)\s+(?:his|her|their|my)\s+(?:\w+\s+)?({_KIN})\b|\b(?:my|his|her)\s+({_KIN})\b")


OCCASION = re.compile(r"\b(?:birthday|(?:wedding )?anniversary|graduation|engagement|retirement|wedding|promotion|christening|"
                      r"baby shower|bridal shower|bachelorette|bachelor party|hen do|stag do|farewell|reunion|"
                      r"date night|proposal|bar mitzvah|bat mitzvah)\b|"
                      r"\b(?:valentine'?s|christmas party|office party|new year'?s|mother'?s day|father'?s day)")
COMPANY = re.compile(r"(?:^|[,.]\s*|\b(?:this is|you'?ve reached|you have reached|it'?s|i'?m with|we'?re|with|at|for|"
                     r"from|to) )((?:[a-z0-9&'-]+ ){0,3}?(?:[a-z0-9&'-]+ )(?:gmbh|ltd|limited|inc|llc|plc|corp|co|ag|pty|bv|"
                     r"srl|sarl|clinic|pharmacy|surgery|dental|salon|garage|bakery|cafe|restaurant|hotel|store|shop|"
                     r"agency|studio|school|office|practice|bank))\b(?! (?:of|for)\b)")


def last_sentence(text: str) -> str:
    """The question a turn ends on: its last sentence with a question mark ("Did you know it can be
    transferred? Some sellers find it helps."), else its last sentence (speech-to-text has no "?")."""
    parts = [s for s in re.split(r"(?<=[.!?])\s+", text.strip().lower()) if s]
    asked = [s for s in parts if s.rstrip().endswith("?")]
    return asked[-1] if asked else parts[-1] if parts else ""


_TOTAL_FIELD = stems({"party", "guest", "total", "people", "headcount", "group", "size", "person", "pax", "diner",
                      "attendee", "traveller", "traveler", "passenger"})
_PART_FIELD = stems({"adult", "child", "children", "kid", "infant", "baby", "senior", "teen", "minor"})


def unit_fit(p: Profile, text: str, position: int) -> float:
    """+1 when the noun after a number is the field's own ("three bedrooms"), -1 when it counts something else."""
    t = parsing.digits(text)
    if (p.words_all & _TOTAL_FIELD) and not p.name_words & _PART_FIELD and (
            re.search(r"\b(?:table|party|booking|reservation|room|seats?|group) (?:for|of) $", t[:position])
            or re.match(r"\S+ of us\b(?! (?:are|is|were|was|will|have|has|need|want|don'?t|can'?t|eat|prefer|would))",
                        t[position:])):  # "two of us are vegetarian" is part of the party
        return 1.0  # "a table for four", "five of us": a head count
    # "six of us, two of them are kids": the noun counted comes after "of them are".
    m = re.match(r"\S+(?: of (?:them|those|us|which)(?: are| is| were| will be|'ll be)?)?" + _UNITS.pattern, t[position:])
    if not m:
        # A noun of the field's own right after the number ("across 3 plants"), known unit or not.
        after = re.match(r"\S+\s+([a-z']+)(?:\s+([a-z']+))?", t[position:])
        own = p.name_words | p.desc_words
        return 1.0 if after and any(w and stem(w) in own for w in after.groups()) else 0.0
    unit = stem(m.group(1))
    return 1.0 if unit in p.name_words | p.desc_words or unit in p.related else -1.0


def kept(text: str, found: list) -> list:
    """Values not turned down where they are said ("today no", "not Tuesday", "Monday's not gonna work")."""
    t = parsing.digits(text)
    out = []
    for pos, value in found:
        before, after = t[max(0, pos - 12):pos], t[pos:pos + 40]
        if re.search(r"\b(?:not|no|never|rather than|instead of)\s+(?:on\s+|the\s+|at\s+)?$", before) or re.match(
                r"[\w'-]+(?:\s+[\w'-]+)?(?:'s|\s+is)?\s+(?:no\b|not\b|doesn'?t work|won'?t work|isn'?t good|wouldn'?t|isn'?t|can'?t|"
                r"is out|is bad|is taken|'s out)", after):
            continue
        out.append((pos, value))
    return out
