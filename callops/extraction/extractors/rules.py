"""The built-in deterministic extractor: no network, same answer every time.

It reads the conversation as question and answer, with general mechanisms only:
- every agent turn may be a question (speech-to-text has no "?"); it is tied to the fields whose
  name words, description words or their common synonyms it uses, or whose type it asks for
  ("how many", "what time", an email), or whose enum options it lists;
- the callee's replies until the next question are read with the field's type parser; a reply to
  a question about another field never answers this one (so a yes/no is not overwritten by the
  next question's "yes");
- several values of one type in one turn ("three bedrooms, we've got two kids") go to the fields
  whose words stand nearest to each value;
- the agent's own restatements ("so that's Thursday at 8:30") count unless the callee corrects
  them, and the last answer wins, so "Tuesday, no wait, Wednesday" is Wednesday;
- yes/no follows the question's polarity ("you don't want to hear from us?" "correct" is a yes to
  do_not_call); refusals and "I don't know" leave the field null;
- a question the callee answers with a question ("are you even open?") still waits for its answer
  after the agent's reply; a settled figure after the working wins ("three here, one there, so
  four all up"); a head count said in parts adds up ("two adults and three children");
- free text is trimmed to the minimal answer, and some is read unasked where a field of a known
  kind records it: a name beside a role, the relationship to the person sought, the occasion.

Each value carries its evidence: the turn it came from, that turn's text and a confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from callops.extraction import amounts, answers, options, parsing, picking, settled, times_of_day, turn_forms
from callops.extraction.clauses import wont_pay
from callops.extraction.clock import call_time, region_for
from callops.extraction.disclaimed_items import at_work, disclaimed_removed
from callops.extraction.free_text import string_answer, string_items
from callops.extraction.matching import (
    CLARIFY,
    CLOSING,
    CORRECTION,
    EVENING,
    OFFER,
    REJECT,
    SPECIFIC,
    Profile,
    asks_back,
    asks_yes_no,
    assign,
    echo,
    kept,
    last_sentence,
    stems,
    unit_fit,
    who,
    yes_no,
)
from callops.extraction.month_fields import fill as months_said
from callops.extraction.people_counts import people_listed, people_total
from callops.extraction.restated import new_question_after
from callops.extraction.schema import fields as schema_fields
from callops.extraction.stated_references import fill as references_read_out
from callops.extraction.transcript import turns as normalise

from . import ExtractionFailed, implied, ordered, unasked

# How close a question must come to a field (its words, synonyms and type cues) to be about it.
TOPIC = 0.8
_CONCLUSION = re.compile(r"\b(?:so|that'?s|thats|which is|which makes|making it|makes it)\b(?:,?\s+(?:yeah|yes|like|about|"
                         r"around|roughly|basically|overall|i'?d say|in total|total|altogether))*,?\s+(\d)|"
                         r"(\d[\d,.]*)\s+(?:\w+\s+)?(?:all up|in total|total|altogether|all told)\b")
_SCALE = re.compile(r"\bscale\b|\b[01] (?:to|and|-|through) (?:5|10|100)\b")  # "from 1 to 10" holds no answers
# "Any accidents?" "No, clean.": a count of none.
_NONE = re.compile(r"^\W*(?:no|none|nope|nah|zero|not one|not a single one|never|nothing)\b(?:[^.!?\d]*)(?:[.!?]|$)")


@dataclass
class Candidate:
    value: object
    turn: int
    confidence: float
    order: float  # later wins; agent restatements rank with the turn they are in


class _Conversation:
    def __init__(self, transcript, schema: dict, when, region: str):
        self.turns = normalise(transcript)
        whole = " ".join(t for _, t in self.turns)
        evening = bool(EVENING.search(whole.lower()))
        self.profiles = [Profile(name, spec, region, when, evening) for name, spec in schema_fields(schema).items()]
        named = amounts.named_currency(whole, region)
        for p in self.profiles:
            p.currency = named
        self.when = when
        self.cands: dict[str, list[Candidate]] = {p.name: [] for p in self.profiles}
        self.kinds = {p.name: p.kind for p in self.profiles}
        self.days: dict[str, date] = {}

    def topics(self) -> list[dict[str, float]]:
        """For each turn, the fields the exchange it belongs to is about, with how strongly."""
        out: list[dict[str, float]] = []
        current: dict[str, float] = {}
        self.carried = {}  # turn -> the question its topic was asked in, when a statement came between
        self.asides: dict[int, tuple[Profile, float]] = {}  # turn -> a yes/no asked beside the topic
        question, asked_back = "", False
        aside: tuple[Profile, float] | None = None
        for i, (role, text) in enumerate(self.turns):
            if role == "agent":
                aside = None
                # "This is the reminder assistant from Elm Dental" names no field: the agent's own
                # introduction is not weighed.
                asked = turn_forms.AGENT_INTRO.sub(" ", text)
                scores = {p.name: p.relevance(asked) + options.asked_for(p, asked) for p in self.profiles}
                best = max(scores.values(), default=0)
                words = set(re.findall(r"[a-z0-9']+", asked.lower()))
                # ... unless another field is asked for plainly ("I'm sorry. Is your internet working now?").
                if current and CLARIFY.search(text.lower()) and not any(
                        p.named_in(asked, words) for p in self.profiles if scores[p.name] >= best - 1e-9) and not (
                        best >= TOPIC + 1 and best > max(scores.get(n, 0) for n in current) + 1):
                    # "sorry, just to confirm, was that the second one?" is still about the same field;
                    # "so 250 on friday, is that right?" confirms the values said, not an earlier yes/no.
                    # A yes/no stays asked by a word of its own, not by "dollars" near "pay", when the turn
                    # sums up values of other fields ("so two hundred dollars on friday, is that right?").
                    own = {p.name for p in self.profiles if (p.name_words | p.desc_words) & turn_forms.words_of(asked)}
                    summary = any(p.values(asked) for p in self.profiles if p.kind not in ("boolean", "string", "list"))
                    current = {n: v for n, v in current.items() if self.kinds[n] != "boolean" or (
                        scores[n] >= TOPIC and (n in own or not summary))} or ({} if summary else current)
                elif current and asked_back and best < TOPIC + 0.5 and not turn_forms.asks(asked):
                    # "Can you still make it?" "Are you even open?" "We're open.": the first question
                    # still waits for its answer.
                    if i + 1 < len(self.turns):
                        self.carried[i + 1] = question
                elif best >= TOPIC:
                    # A runner-up joins when it is nearly as close, or the question names it in full
                    # ("your email and your phone number").
                    current, question = self._about(scores, asked, words), text
                    aside = self._yes_no_aside(asked, current)
                elif current and turn_forms.ASKS_MORE.search(asked.lower()) and not re.search(r"\bhelp\b|\bfor you\b|\bthat'?s (?:all|everything)\b",
                                                                               asked.lower()) \
                        and any(self.kinds[n] == "list" for n in current):
                    # "The piano and a glass table. Anything else?": more items for the same list.
                    current = {n: v for n, v in current.items() if self.kinds[n] == "list"}
                elif current and all(self.kinds[n] == "boolean" for n in current) and \
                        turn_forms.asks_again(asked, self.turns[i - 1][1] if i else ""):
                    pass  # "Do you have five minutes for a survey?" "Who gave you this number?" "Would you still ...?"
                elif not CLARIFY.search(text.lower()):
                    current = {}  # a new, unrelated question ("Anything else I can help with?")
                asked_back = False
            else:
                # Only a question back that answers nothing ("are you even open?"), not "yes, can you
                # send me the details?".
                asked_back = (asks_back(text) or answers.is_non_answer(text)) and \
                    not answers.bool_mentions(text) and not any(p.values(text) for p in self.profiles
                                                                if p.kind not in ("boolean", "string", "list"))
                if aside is not None:
                    self.asides[i] = aside
            out.append(current)
        return out

    def _yes_no_aside(self, text: str, current: dict[str, float]) -> tuple[Profile, float] | None:
        """A turn that states a value and ends on a yes/no ("The new rent would be $1,650. Does that work
        for you?", "Shall I email you the brochure?"): the yes/no field it comes nearest, for a reply
        that gives no value of the topic's own ("Yeah, that's fine", "Yes please")."""
        if not asks_yes_no(last_sentence(text)):
            return None
        options = [(p.relevance(text), p) for p in self.profiles if p.kind == "boolean" and p.name not in current]
        if not options or any(self.kinds[n] == "boolean" for n in current):
            return None
        score, best = max(options, key=lambda o: o[0])
        return (best, score) if score >= TOPIC + 0.3 and sum(s >= score - 1e-9 for s, _ in options) == 1 else None

    def _about(self, scores: dict, text: str, words: set) -> dict[str, float]:
        """The fields a question is about. Fields of one type compete: a runner-up joins when it is
        nearly as close or named in full ("your email and your phone number"). Fields of different
        types can be asked together ("how much can you pay, and when?"). A field's siblings (same
        type, a name word in common: window_start, window_end) come along, as one answer holds both."""
        best = max(scores.values())
        leader = max(self.profiles, key=lambda p: scores[p.name])
        said = turn_forms.words_of(text)
        out = {}
        family = {"integer": "number", "datetime": "date"}  # kinds whose answers look alike compete

        def key(p):
            return ("list:" if p.kind == "list" else "") + family.get(p.item.kind, p.item.kind)

        last = last_sentence(text)
        # A yes/no field is asked by a yes/no question (or "who signs off?"), not by "how much could
        # you pay on friday?", whose "yeah" would otherwise answer it.
        yes_no_asked = asks_yes_no(last) or bool(re.search(r"\bwho\b", last)) or not turn_forms.asks(text)
        for kind in {key(p) for p in self.profiles}:
            group = [p for p in self.profiles if key(p) == kind]
            if kind == "boolean" and not yes_no_asked and any(key(q) != "boolean" and scores[q.name] >= TOPIC
                                                               for q in self.profiles):
                continue
            top = max(scores[p.name] for p in group)
            for p in group:
                v = scores[p.name]
                if v < max(TOPIC, best * 0.5) or not (v >= top - 0.5 or p.named_in(text, words)):
                    continue
                # Asked alongside the leading field only with evidence of its own: a word of its own or
                # its type's cue, not only the words it shares with the leader ("single date").
                if p is leader or key(p) == key(leader) or (p.matched(said) - leader.matched(said)) or (
                        p.item.kind != "boolean" and p.cue_hit(text) and p.item.kind != leader.item.kind) or (
                        p.kind == "boolean" and re.search(r"\bwho\b", last_sentence(text))):
                    out[p.name] = v  # "who signs off?" answers both the name and whether it is the callee
        # The yes/no the turn ends on ("... or month to month. Would you like to renew?") is asked,
        # whatever else the turn is about.
        last = last_sentence(text)
        if asks_yes_no(last):
            yes_no_fields = [(p.relevance(last), p) for p in self.profiles if p.kind == "boolean"]
            top, asked = max(yes_no_fields, key=lambda f: f[0], default=(0, None))
            # ... unless the sentence is about another field ("Could you give me the number?").
            # A free-text field that shares the question's words does not outrank it: a yes/no
            # question is answered with a yes or no ("can you still make that?").
            if asked is not None and top >= TOPIC + 0.3 and asked.name not in out and top > max(
                    (q.relevance(last) - (0.5 if q.kind == "string" else 0) for q in self.profiles
                     if q.name in out), default=0):
                out[asked.name] = top
        for p in self.profiles:
            if p.name not in out and p.kind not in ("boolean", "string"):
                # The two ends of one thing (window_start/window_end), or a sibling the question names
                # with a word of its own; not any two fields that share a word (years_cdl and
                # accidents_last_3_years when only the CDL is asked about).
                others = {w for q in self.profiles if q.name in out and q.item.kind == p.item.kind
                          for w in q.name_words | q.desc_words}
                own = bool(((p.name_words | p.desc_words) - others) & said)
                kin = [q for q in self.profiles if q.name in out and q.kind == p.kind and q.item.kind == p.item.kind
                       and q.name_words & p.name_words and (own or (p.start_like or p.end_like)
                                                            and (q.start_like or q.end_like))]
                if not kin:  # a restatement that holds several values of the type shares them out
                    kin = [q for q in self.profiles if q.name in out and q.kind == p.kind
                           and q.item.kind == p.item.kind and q.name_words & p.name_words
                           and len(p.values(text)) >= 2 and not _SCALE.search(parsing.digits(text))]
                if kin:
                    out[p.name] = max(out[q.name] for q in kin)
        return out

    def add(self, p: Profile, value, turn: int, strength: float) -> None:
        self.cands[p.name].append(Candidate(value, turn, strength, turn))

    def extract(self) -> tuple[dict, dict]:
        topics = self.topics()
        by_name = {p.name: p for p in self.profiles}
        for i, (role, text) in enumerate(self.turns):
            about = [(by_name[n], v) for n, v in topics[i].items()]
            if role == "user":
                question = self.carried.get(i) or self._question_before(i)
                self._answer(about, i, text, question)
                if i in self.asides and not any(c.turn == i and c.value is not None
                                                for n in topics[i] for c in self.cands[n]):
                    p, strength = self.asides[i]
                    value = yes_no(p, text, question)
                    if value is not None:
                        self.add(p, value, i, strength)
            else:
                self._restatement(about, i, text)
        self._volunteered(topics)
        self._loosely_asked()
        settled.corrected_summaries(self)
        settled.statements_accepted(self)
        unasked.voicemail(self)
        unasked.intents(self)
        unasked.reasons(self)
        unasked.strings(self)
        references_read_out(self)
        months_said(self)
        ordered.tie_by_order(self, topics, TOPIC)
        implied.moved_booking(self)
        values, evidence = {}, {}
        for p in self.profiles:
            chosen = self._choose(self.cands[p.name])
            if chosen is not None and chosen.value not in (None, []):
                values[p.name] = chosen.value
                evidence[p.name] = {"turn": chosen.turn, "text": self.turns[chosen.turn][1],
                                    "confidence": round(min(1.0, 0.35 + chosen.confidence / 4), 2)}
        return values, evidence

    def _question_before(self, i: int) -> str:
        for j in range(i - 1, -1, -1):
            if self.turns[j][0] == "agent":
                return self.turns[j][1]
        return ""

    def _answer(self, about, i: int, text: str, question: str) -> None:
        by_kind: dict[str, list] = {}
        for p, strength in about:
            by_kind.setdefault(p.item.kind if p.kind != "list" else "list:" + p.item.kind, []).append((p, strength))
        refusal = answers.is_refusal(text)
        for kind, group in by_kind.items():
            if kind == "boolean":
                for p, strength in group:
                    last = last_sentence(question)
                    if CLOSING.search(last.lower()) and p.relevance(last) < TOPIC or (
                            turn_forms.records_callee_question(p.name, p.spec.description) and not asks_back(text)):
                        continue  # "Thanks for confirming. Anything else?" "no thats all": no answer to confirmed
                    # "And by phone?" after a yes/no question is one too, in short.
                    value = yes_no(p, text, question) if asks_yes_no(last) or turn_forms.ELLIPTICAL.match(last) else \
                        who(text) if re.search(r"\bwho\b", last) else echo(p, text) if turn_forms.asks(question) else \
                        settled.approval(self, p, text)  # "Your appointment is Friday at 10." "friday's fine"
                    if value is not None or refusal:
                        self.add(p, value, i, strength)
            elif kind == "string":
                p, strength = max(group, key=lambda g: g[1])
                value = string_answer(p, text, question)
                if value is not None or refusal:
                    self.add(p, value, i, strength)
            elif kind.startswith("list:"):
                for p, strength in group:
                    value = self._list(p, text)
                    earlier = next((c.value for c in reversed(self.cands[p.name]) if isinstance(c.value, list)), None)
                    if value and earlier and (turn_forms.ADDED_ON.search(answers.norm(text)) or turn_forms.ASKS_MORE.search(question.lower())):
                        # "Oh, and the mirror too", or any items after "any others?": added to the items already said.
                        value = list(earlier) + [v for v in value if v not in earlier]
                    if value is not None or refusal:
                        self.add(p, value, i, strength)
            elif kind == "datetime":
                for p, strength in group:
                    self._datetime(p, i, text, strength)
            else:
                if len(group) > 1:
                    # A field settled by a closer question earlier does not take the leftovers of a
                    # question that only brushes it ("how large is the space?" then "how many people?").
                    group = [(p, s) for p, s in group if not self._settled(p, s)] or group
                assigned = assign([p for p, _ in group], text)
                for p, strength in group:
                    found = kept(text, assigned[p.name])
                    if p.item.kind == "enum":
                        # Enum positions are in the normalised text: an option turned down where it is
                        # said ("mornings are tough, so afternoon", "fully onsite wouldn't be") is no answer.
                        found = [(pos, v) for pos, v in found if not options.turned_down(text, pos)]
                    first = re.split(r"[.!?]", parsing.digits(text), maxsplit=1)[0]
                    if p.item.kind in ("integer", "number") and not refusal and _NONE.match(first) and \
                            not parsing.numbers_in(first) and re.search(r"\b(?:any|how many)\b", question.lower()):
                        self.add(p, 0, i, strength)
                    elif found:
                        total = people_total(p, text) if p.item.kind in ("integer", "number") else None
                        total = people_listed(p, text, question) if total is None else total  # "me and two colleagues"
                        self.add(p, total if total is not None else self._pick(p, text, found), i,
                                 strength + 0.2 * min(2, p.near(text, found[0][0])))
                    elif p.item.kind == "integer" and (listed := people_listed(p, text, question)) is not None:
                        self.add(p, listed, i, strength)  # "just me and my husband"
                    elif p.item.kind == "integer" and (nth := _BARE_ORDINAL.match(parsing.digits(text)) or
                                                       _NTH_TIME.search(parsing.digits(answers.norm(text)))):
                        self.add(p, int(nth.group(1)), i, strength)  # "what floor?" "the fourth"; "my third time"
                    elif p.item.kind == "enum" and (meant := options.loosely(
                            text, question, p.options, p.item.synonyms, p.spec.description)):
                        self.add(p, meant, i, strength)  # "the second one", "the one with flood cover"
                    elif refusal:
                        self.add(p, None, i, strength)

    def _settled(self, p: Profile, strength: float) -> bool:
        return any(c.value is not None and c.confidence >= strength + 0.3 for c in self.cands[p.name])

    def _pick(self, p: Profile, text: str, found: list) -> object:
        """The value a reply settles on: after a correction the last, else the one nearest the field's
        words, else the first (what follows is usually explanation)."""
        if len(found) == 1:
            return found[0][1]
        t = parsing.digits(text)
        marks = [m.end() for m in CORRECTION.finditer(t) if any(pos >= m.end() for pos, _ in found)]
        if p.item.kind in ("integer", "number", "currency", "duration"):
            # A sum or a settled figure after the working: "three years here, one there, so four all up".
            marks += [k for k in (m.start(1) if m.group(1) else m.start(2) for m in _CONCLUSION.finditer(t))
                      if any(pos < k for pos, _ in found)]  # "okay, so 250 today" is no conclusion
            marks = sorted(m for m in marks if any(pos >= m for pos, _ in found))
        if marks and p.item.kind == "enum":
            # "GIRO. No wait, GIRO takes days. PayNow.": a correction replaces what was said before it,
            # so the first option after it that was not already said.
            before = {v for pos, v in found if pos < marks[-1]}
            after = [v for pos, v in found if pos >= marks[-1]]
            return next((v for v in after if v not in before), after[0])
        if marks:  # "three nights. no, four": the first value after the last correction
            return next(v for pos, v in found if pos >= marks[-1])
        if p.item.kind in ("date", "time"):  # else the last: "tuesday or wednesday, wednesday's better"
            return picking.range_end(p, text, found, p.item.kind) or picking.beside_own_words(p, text, found) or found[-1][1]
        if p.item.kind in ("email", "phone"):
            return found[-1][1]
        if p.item.kind == "enum":
            # "afternoon is best, i'm at work in the mornings": the first, unless another stands by the
            # field's own words ("marketing calls stopped, and account notices by text").
            near = [p.near(text, pos) for pos, _ in found]
            return found[near.index(max(near))][1] if max(near) >= near[0] + 1 else found[0][1]
        if (bound := picking.bound_marked(p, text, found, p.item.kind)) is not None:
            return bound  # "i'd want at least twenty three" for a minimum
        scored = [(p.near(text, pos) + unit_fit(p, text, pos), -k) for k, (pos, _) in enumerate(found)]
        best = max(scored)
        return found[-best[1]][1] if best[0] > 0 else found[0][1]

    def _datetime(self, p: Profile, i: int, text: str, strength: float) -> None:
        days = _settled_on(parsing.digits(text), kept(text, parsing.dates_with_spans(text, self.when, p.past, p.region)))
        hms = _settled_on(parsing.digits(text, pairs=""), kept(text, times_of_day.times_with_spans(text, p.evening)))
        if not days and not hms:
            # "call me back in like forty five minutes": a moment counted from the call.
            ahead = [secs for pos, secs in amounts.durations_with_spans(text) if re.search(
                r"\bin (?:(?:like|about|around|maybe|roughly|say|another|an extra|the next)\s+)?$",
                parsing.digits(text)[max(0, pos - 24):pos])]
            if ahead and isinstance(self.when, datetime):
                moment = (self.when + timedelta(seconds=ahead[-1])).replace(second=0, microsecond=0)
                self.add(p, moment.isoformat(), i, strength)
            return
        previous = next((c for c in reversed(self.cands[p.name]) if c.value), None)
        prev_day = prev_hm = None
        if previous:
            prev = datetime.fromisoformat(cast(str, previous.value))  # datetime candidates hold ISO text
            prev_day, prev_hm = prev.date(), (prev.hour, prev.minute)
        day = days[-1] if days else self.days.get(p.name, prev_day)
        hm = hms[-1] if hms else prev_hm
        if days:
            self.days[p.name] = days[-1]  # "Sunday. What time?" - the day waits for its time
        if hm is None:
            return
        if day is None:
            day = self.when.date() if times_of_day.combine(self.when.date(), hm, self.when) >= self.when \
                else self.when.date() + timedelta(days=1)
        self.add(p, times_of_day.combine(day, hm, self.when).isoformat(), i, strength + (0.2 if days and hms else 0))

    def _list(self, p: Profile, text: str):
        item = p.item
        if answers.is_refusal(text):
            return None
        if item.kind == "enum":
            return options.listed(text, item.values, item.synonyms) or None
        if item.kind == "string":
            return string_items(disclaimed_removed(text) if at_work(p.spec.description) else text) or None
        if item.kind in ("boolean", "datetime"):
            # Items said one after the other: "no and yes", "Friday at 3 and Monday at 10".
            parts = [x for x in re.split(r"\s*(?:;|\band\b|,(?=\s*(?:and\s+)?\w+day\b))\s*", text) if x.strip(" .")]
            found: list[bool | str | None]
            if item.kind == "boolean":
                found = [answers.parse_boolean(x) for x in parts]
            else:
                moments = [times_of_day.parse_datetime(x, self.when, p.evening) for x in parts]
                found = [x.isoformat() if x else None for x in moments]
            return [x for x in found if x is not None] or None
        out = []
        for _, value in p.values(text):
            if value not in out:
                out.append(value)
        return out or None

    def _restatement(self, about, i: int, text: str) -> None:
        """Values the agent states; they stand unless the callee's next turn rejects them, and an offer
        of several options stands for nothing until the callee picks."""
        following = self.turns[i + 1][1] if i + 1 < len(self.turns) and self.turns[i + 1][0] == "user" else ""
        # "Eleven to three Thursday. Is there an elevator?" "No, it's a walk-up.": the no answers the new
        # question, not the restated time.
        moved_on = new_question_after(self.profiles, text)
        if following and REJECT.search(answers.norm(following)) and not moved_on:
            return
        offer = bool(OFFER.search(text.lower())) and bool(following)
        if not moved_on and asks_yes_no(text) and text.rstrip().endswith("?") and following and \
                not (answers.bool_mentions(following)[:1] or [(0, False)])[0][1]:
            return  # "Shall I book Tuesday?" stands only if the callee says yes
        strengths = dict((p.name, v) for p, v in about)
        for p in self.profiles:
            if p.kind in ("boolean", "string") or (p.kind == "list" and p.item.kind == "string") or (
                    p.kind in ("currency", "date") and wont_pay(following)):  # "$640?" "i'm not paying anything"
                continue
            if moved_on and p.kind not in ("time", "datetime"):
                continue  # only the restated times stand past the callee's "no" to the next question
            same_type = [q for q in self.profiles if q.item.kind == p.item.kind and q.kind == p.kind]
            # Unasked, a restatement of a value of a specific kind (a date, an address, an amount)
            # still counts when it can only be about this field, or when the fields of that kind
            # are told apart by order (start and end of a window).
            strength = strengths.get(p.name, 0.0)
            if not strength and p.item.kind in SPECIFIC and p.kind != "list":
                strength = 0.8 if len(same_type) == 1 else 0.6
                if p.item.kind == "currency" and not amounts.has_currency_word(text):
                    strength = 0.0  # "the number ending in two two one" is no amount
            if not strength and p.item.kind in ("integer", "number") and p.kind != "list" and any(
                    unit_fit(p, text, pos) > 0 for pos, _ in p.values(text)):
                strength = 0.6  # "Five people tomorrow." counts people, unasked
            if strength <= 0:
                continue
            if p.kind == "datetime":
                # An offer holds several moments ("9:00, 11:00 and 2:00"); one moment said back
                # ("Seven thirty tomorrow is available") is the booking.
                if not offer or len(times_of_day.times_with_spans(text, p.evening)) <= 1:
                    self._datetime(p, i, text, strength)
                continue
            group = [q for q in same_type if q.name in strengths] or same_type
            found = kept(text, assign(group if p in group else [p], text)[p.name])
            if p.item.kind in ("integer", "number"):  # "twenty percent off the next year" counts no years
                found = [(pos, v) for pos, v in found if unit_fit(p, text, pos) >= 0]
            if not found or (len(found) > 1 and offer):
                continue
            value = self._list(p, text) if p.kind == "list" else self._pick(p, text, found)
            self.add(p, value, i, strength)

    def _volunteered(self, topics) -> None:
        """Values said in passing: the field's words in a callee turn and the value beside them, or an
        enum option or an address of a kind only one field takes."""
        for p in self.profiles:
            for i, (role, text) in enumerate(self.turns):
                if role != "user" or p.name in topics[i] or text.rstrip().endswith("?"):
                    continue
                if p.kind == "boolean":
                    value = echo(p, text)
                    if value is not None:
                        self.add(p, value, i, 0.5)
                    continue
                if p.kind == "list" and p.item.kind == "enum" and not self.cands[p.name]:
                    said = self._list(p, text)  # "an oil change and check the brakes", unasked
                    if said:
                        self.add(p, said, i, 0.4)
                    continue
                if p.kind in ("string", "list", "datetime"):
                    continue
                found = kept(text, p.values(text))
                if not found:
                    continue
                near = max(p.near(text, pos) + unit_fit(p, text, pos) for pos, _ in found)
                if p.kind in ("email", "phone", "enum") or near >= 1:
                    total = people_total(p, text) if p.kind in ("integer", "number") else None
                    self.add(p, total if total is not None else self._pick(p, text, found), i, 0.5 + 0.3 * min(near, 2))
                elif p.kind in ("date", "time") and not self.cands[p.name]:
                    same = [q for q in self.profiles if q.kind == p.kind]
                    mine = assign(same, text)[p.name] if len(same) > 1 else found
                    if mine:
                        self.add(p, mine[-1][1], i, 0.3)

    def _loosely_asked(self) -> None:
        """A field no question clearly asked for: the question that comes nearest it, if its reply
        holds a value of the field's type and no other field owns that question."""
        for p in self.profiles:
            if any(c.value is not None for c in self.cands[p.name]):
                continue
            asked = []
            for i, (role, text) in enumerate(self.turns):
                if role != "agent" or i + 1 >= len(self.turns) or self.turns[i + 1][0] != "user":
                    continue
                mine = p.relevance(text)
                alone = sum(q.item.kind == p.item.kind for q in self.profiles) == 1 and p.kind != "string"
                own = bool((p.name_words | p.desc_words) & stems(re.findall(r"[a-z0-9']+", text.lower())))
                if mine >= 0.3 and ((p.overlap(text) and (own or p.kind != "string")) or alone) and mine >= max(q.relevance(text) for q in self.profiles) - 1e-9 and \
                        not CLOSING.search(text.lower()):
                    asked.append((mine, i))
            for mine, i in sorted(asked, reverse=True):
                self._answer([(p, mine)], i + 1, self.turns[i + 1][1], self.turns[i][1])
                if any(c.value is not None for c in self.cands[p.name]):
                    break

    def _choose(self, found: list[Candidate]) -> Candidate | None:
        if not found:
            return None
        best = max(c.confidence for c in found)
        strong = [c for c in found if c.confidence >= 0.6 * best]
        chosen = max(strong, key=lambda c: c.order)
        # "I don't know, my schedule is all over the place." "Mornings or afternoons?" "Probably
        # afternoons.": a later answer to the same question settles what "I don't know" left open.
        if chosen.value is None:
            later = [c for c in found if c.value is not None and c.order > chosen.order
                     and c.confidence >= 0.5 * chosen.confidence]
            return max(later, key=lambda c: c.order) if later else chosen
        return chosen


_BARE_ORDINAL = re.compile(r"^\W*(?:(?:um+|uh+|oh|its|it'?s|on|the|that'?s|we'?re on|i'?m on)\W+)*(\d{1,3})(?:st|nd|rd|th)"
                           r"(?:\s+(?:one|floor|time|place))?\W*$")
# "How many times have you visited?" "This is my third time.": the count said as an ordinal.
_NTH_TIME = re.compile(r"\b(?:my|our|the|his|her|their) (\d{1,3})(?:st|nd|rd|th) (?:time|visit|stay|order|booking|"
                       r"appointment|year|trip|call)\b")
def _settled_on(form: str, found: list) -> list:
    """The values from the first one after the last correction on ("Eight pm. Seven thirty? No, make it
    quarter to eight, the kids have class till seven fifteen": quarter to eight); all when none."""
    marks = [m.end() for m in CORRECTION.finditer(form) if any(pos >= m.end() for pos, _ in found)]
    if not marks:
        return [v for _, v in found]
    first = next(k for k, (pos, _) in enumerate(found) if pos >= marks[-1])
    return [found[first][1]]


def read_transcript(transcript, schema: dict, when, region: str = "US") -> tuple[dict, dict]:
    """(field -> value, field -> {"turn", "text", "confidence"}); fields never answered are absent."""
    return _Conversation(transcript, schema, when, region).extract()


def extract_turns(transcript, schema: dict, when, region: str = "US") -> dict:
    return read_transcript(transcript, schema, when, region)[0]


def extract(call, schema: dict) -> dict:
    return extract_with_evidence(call, schema)[0]


def extract_with_evidence(call, schema: dict) -> tuple[dict, dict]:
    if not normalise(call.transcript):
        raise ExtractionFailed("empty transcript")
    return read_transcript(call.transcript, schema, call_time(call), region=region_for(call))
