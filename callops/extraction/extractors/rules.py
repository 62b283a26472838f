"""The built-in deterministic extractor: no network, same answer every time.

It reads the conversation as question and answer. Each agent question is matched to the
`returns` fields it mentions (by the words of the field name, plus cues such as "email",
"how many" or the enum's options); the callee's replies until the next question are parsed with
the field's type parser. The last parsable answer wins, so "yes... actually no" is no. A follow-up
that mentions no field ("Sorry, could you repeat that?", "So that's Tuesday at 3, correct?")
keeps the field under discussion; any other unrelated question closes it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import phonenumbers

from callops.extraction import parsing
from callops.extraction.clock import call_time
from callops.extraction.schema import validate_returns
from callops.extraction.transcript import turns as normalise

from . import ExtractionFailed

_STOPWORDS = {"is", "the", "a", "an", "of", "for", "to", "do", "does", "did", "was", "are", "has", "have", "by",
              "in", "on", "at", "and", "or", "with", "their", "your", "my", "customer", "user", "caller", "value"}
_CLARIFY_RE = re.compile(
    r"\b(repeat|say that again|come again|was that|did you say|is that|is it|correct|right\?|just to confirm|"
    r"sorry|you mean|so that's|so that is|which one|first or|second one|still|confirming|catch that|one more time)\b")
_REQUEST_RE = re.compile(r"\b(tell me|let me know|please (?:say|give|share|confirm|tell|spell)|i(?:'ll| will)? need|"
                         r"give me|what is|what's|which)\b")
_WH_RE = re.compile(r"^\W*(?:\w+[,.]\s+)?(?:and\s+|so\s+)?(how|what|what's|when|which|where|who|whose)\b")
_TYPE_CUES = {
    "email": (re.compile(r"\b(e-?mail|email address)\b"), 0.6),
    "phone": (re.compile(r"\b(phone|number|cell|mobile|reach you)\b"), 0.5),
    "date": (re.compile(r"\b(when|date|day)\b"), 0.2),
    "datetime": (re.compile(r"\b(when|date|day|time|schedule)\b"), 0.2),
    "integer": (re.compile(r"\bhow many\b"), 0.2),
    "number": (re.compile(r"\b(how much|how many|amount|figure)\b"), 0.2),
    "boolean": (re.compile(r"\b(yes or no|a yes|confirm)\b"), 0.1),
}


def stem(word: str) -> str:
    word = word.lower().strip("'")
    if word.endswith("'s"):
        word = word[:-2]
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)] + repl
            break
    return word


def _words(text: str) -> set[str]:
    raw = re.findall(r"[a-z0-9']+", text.lower())
    # "call back" also counts as "callback", and so do "call you back" and "pick it up".
    return ({stem(w) for w in raw} | {stem(a + b) for a, b in zip(raw, raw[1:], strict=False)}
            | {stem(a + c) for a, c in zip(raw, raw[2:], strict=False)})


def _field_words(name: str) -> set[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").lower()
    words = [w for w in spaced.split() if w]
    keep = [w for w in words if w not in _STOPWORDS] or words
    return {stem(w) for w in keep}


# How a question asks for a field without naming it: "why" asks for a reason.
_ASKED_AS = {"reason": {"why"}, "address": {"where"}, "amount": {"much"}, "price": {"much", "cost"},
             "cost": {"much", "price"}, "count": {"many"}, "quantity": {"many"}}


class _Field:
    def __init__(self, name: str, spec, region: str, when):
        self.name, self.spec, self.region, self.when = name, spec, region, when
        self.words = _field_words(name)
        self.kind = spec if isinstance(spec, str) else ("enum" if isinstance(spec, list) else "list")
        self.value = None
        self.day = None
        self.hm = None

    def coverage(self, question: str) -> float:
        """The share of the field's words the question uses."""
        q_words = _words(question)
        hits = sum(1 for w in self.words if w in q_words or _ASKED_AS.get(w, set()) & q_words)
        return hits / len(self.words)

    def lists_options(self, question: str) -> bool:
        options = self.spec if self.kind == "enum" else (self.spec["list"] if self.kind == "list"
                                                          and isinstance(self.spec["list"], list) else None)
        return bool(options) and len({o for _, o, _ in parsing.enum_mentions(question, options)}) >= 2

    def named(self, question: str) -> bool:
        """The question asks for this field by name, or offers its choices."""
        return self.coverage(question) >= 1.0 or self.lists_options(question)

    def score(self, question: str) -> float:
        score = self.coverage(question)
        item = self.spec["list"] if self.kind == "list" else self.kind
        cue = _TYPE_CUES.get(item) if isinstance(item, str) else None
        if cue and cue[0].search(question.lower()):
            score += cue[1]
        if self.lists_options(question):
            score += 0.6  # the question lists this enum's choices
        wh = _WH_RE.match(question.lower())
        if wh and self.kind == "boolean":
            score -= 0.6  # "How many pets?" is not the yes/no question about pets
        elif wh and wh.group(1) == "when" and self.kind not in ("date", "datetime"):
            score -= 0.4  # "When should the new plan start?" asks for a date, not the plan
        return score

    def feed(self, reply: str) -> None:
        kind, value = self.kind, None
        if kind == "boolean":
            # The field's own words are the topic, not an answer: for a `cancel` field,
            # "yes, I want to cancel" is a yes although "cancel" alone reads as a no.
            masked = re.sub(r"[A-Za-z']+", lambda m: "…" if stem(m.group(0)) in self.words else m.group(0), reply)
            value = parsing.parse_boolean(masked)
            if value is None:
                value = self._echo(reply)
        elif kind == "number":
            value = parsing.parse_number(reply)
        elif kind == "integer":
            value = parsing.parse_integer(reply)
        elif kind == "date":
            day = parsing.parse_date(reply, self.when)
            value = day.isoformat() if day else None
        elif kind == "datetime":
            day, hm = parsing.parse_date(reply, self.when), parsing.parse_time(reply)
            self.day = day or self.day
            self.hm = hm or self.hm
            value = self._datetime()
        elif kind == "email":
            value = parsing.parse_email(reply)
        elif kind == "phone":
            value = parsing.parse_phone(reply, region=self.region)
        elif kind == "enum":
            value = parsing.match_enum(reply, self.spec)
        elif kind == "list":
            value = self._list(reply)
        else:
            value = parsing.clean_string(reply)
        if value is not None and value != []:
            self.value = value

    def _echo(self, reply: str):
        """An answer that echoes the question's word: "Is it urgent?" - "Not urgent" / "Very urgent"."""
        words = re.findall(r"[a-z0-9']+", reply.lower())
        found = None
        for i, word in enumerate(words):
            if stem(word) in self.words:
                before = words[max(0, i - 2):i]
                found = not any(w in ("not", "no", "never") or w.endswith("n't") for w in before)
        return found

    def _datetime(self):
        if self.hm is None:
            return None
        day = self.day
        if day is None:
            day = self.when.date()
            if parsing.combine(day, self.hm, self.when) < self.when:
                day += timedelta(days=1)
        return parsing.combine(day, self.hm, self.when).isoformat()

    def _list(self, reply: str):
        inner = self.spec["list"]
        if isinstance(inner, list):
            seen = []
            for _, option, negated in parsing.enum_mentions(reply, inner):
                if not negated and option not in seen:
                    seen.append(option)
            return seen or None
        # Types with their own finders read every value straight from the reply.
        finders = {"email": parsing.emails_in, "phone": lambda t: parsing.phones_in(t, self.region),
                   "number": parsing.numbers_in, "date": lambda t: [d.isoformat()
                                                                    for d in parsing.dates_in(t, self.when)],
                   "integer": lambda t: [n for n in parsing.numbers_in(t) if float(n).is_integer()]}
        if inner in finders:
            if parsing.is_refusal(reply):
                return None
            return list(dict.fromkeys(finders[inner](reply))) or None
        if inner == "boolean":  # "yes and no": fillers are the values here
            parts = [p for p in re.split(r"\s*(?:,|;|\band\b)\s*", reply) if p.strip(" .")]
        else:
            parts = parsing.split_list(reply, commas=inner != "datetime")
        if inner == "string":
            return parts or None
        out = []
        for part in parts:
            single = _Field(self.name, inner, self.region, self.when)
            single.feed(part)
            if single.value is not None:
                out.append(single.value)
        return out or None


def _question_text(text: str) -> tuple[str, bool]:
    """The question sentences of an agent turn (a greeting's small talk is not the question)."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    questions = [s for s in sentences if s.endswith("?")]
    if questions:
        return " ".join(questions), True
    return (sentences[-1] if sentences else ""), False


def extract_turns(transcript, schema: dict, when, region: str = "US") -> dict:
    """Field -> value for a transcript; fields never answered are absent."""
    fields = [_Field(name, spec, region, when) for name, spec in validate_returns(schema).items()]
    current: list[_Field] = []
    for role, text in normalise(transcript):
        if role == "agent":
            question, is_question = _question_text(text)
            scores = [(f.score(question), f) for f in fields]
            best = max((s for s, _ in scores), default=0)
            if is_question and best < 0.5 and question != text:
                # "I see you'd like to cancel. Is that right?": the subject is in the lead-in.
                whole = [(f.score(text), f) for f in fields]
                if max((s for s, _ in whole), default=0) >= 0.5:
                    question, scores = text, whole
                    best = max(s for s, _ in scores)
            clarifying = bool(_CLARIFY_RE.search(question.lower()))
            if current and clarifying and best < 1.0:
                continue  # "just to confirm, was that the second one?" is still about the same field
            if best >= 0.5 and (is_question or _REQUEST_RE.search(question.lower())):
                # Every field the question is about ("an email and a phone number"), not only the best.
                # A runner-up joins only when the question names it in full or offers its choices.
                current = [f for s, f in scores if s >= 0.5 and (
                    s >= best - 1e-9 or (s >= best - 0.4 and f.named(question)))]
            elif is_question and not clarifying:
                current = []  # a new, unrelated question ("Anything else I can help with?")
            continue
        for f in current:
            f.feed(text)
    return {f.name: f.value for f in fields if f.value is not None}


def region_for(call) -> str:
    """Numbers said without a country code are read in the callee's country (default US)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(call.to_number, None)) or "US"
    except (phonenumbers.NumberParseException, TypeError):
        return "US"


def extract(call, schema: dict) -> dict:
    if not normalise(call.transcript):
        raise ExtractionFailed("empty transcript")
    return extract_turns(call.transcript, schema, call_time(call), region=region_for(call))
