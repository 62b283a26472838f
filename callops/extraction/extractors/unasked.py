"""What callees say without being asked, which fields often record: asking not to be contacted
again, saying who is on the line, a reason after a decision, a relationship, an occasion, a
company or a name beside a role. Read after the question-and-answer pass of `rules`, for the
fields it left empty (an opt-out outweighs any yes or no).
"""

from __future__ import annotations

import re

from callops.extraction import answers, parsing
from callops.extraction.free_text import GREETING as _GREETING
from callops.extraction.free_text import intent_only, named_person, only_decision, string_answer
from callops.extraction.matching import (
    COMPANY,
    IS_THEM,
    NOT_THEM,
    OCCASION,
    OPT_OUT,
    REASON_WORDS,
    RELATION,
    asks_back,
    is_name_field,
    stems,
)
from callops.extraction.self_corrections import corrected


def _words_of(text: str) -> set[str]:
    return stems(re.findall(r"[a-z0-9']+", text.lower()))


_MACHINE_FIELD = stems({"voicemail", "machine", "answerphone", "mailbox", "message", "recording"})
_HUMAN_FIELD = stems({"human", "person", "live", "someone", "anyone", "answer", "answered", "pick", "reach", "reached",
                      "spoke", "speak", "connect", "connected"})


def voicemail(conv) -> bool:
    """Reads whether the callee's side is a recorded greeting (two of its phrases, or one with
    nothing said that answers the agent); sets the booleans about it and answers the finding."""
    said = [(i, answers.norm(t)) for i, (r, t) in enumerate(conv.turns) if r == "user"]
    hits = [i for i, t in said for _ in _GREETING.finditer(t)]
    if len(hits) < 2 and not (hits and len(said) <= 2):
        return False
    # A recorded greeting answers no question ("you've reached Marcus" is no yes to "can you confirm?").
    for p in conv.profiles:
        conv.cands[p.name] = [c for c in conv.cands[p.name] if c.turn not in hits]
    for p in conv.profiles:
        if p.kind != "boolean" or any(c.value is not None for c in conv.cands[p.name]):
            continue
        words = p.name_words | p.desc_words
        if words & _MACHINE_FIELD:
            conv.add(p, not p.negative, hits[0], 2.0)
        elif words & _HUMAN_FIELD and not words & stems({"wrong", "intend", "intended", "know"}):
            conv.add(p, p.negative, hits[0], 2.0)
    return True


def intents(conv) -> None:
    """Two things people say without being asked, which booleans often record: asking not to be
    contacted again, and saying who is on the line (the person sought, or not)."""
    said = [(i, answers.norm(t)) for i, (r, t) in enumerate(conv.turns) if r == "user"]
    for p in conv.profiles:
        if p.kind != "boolean":
            continue
        words = p.name_words | p.desc_words
        answered = any(c.value is not None for c in conv.cands[p.name])
        identity = words & stems({"intend", "intended", "sought", "seek", "wrong", "speak", "reach"})
        if words & stems({"know", "knows", "acquaint", "familiar"}) and words & stems(
                {"person", "intend", "intended", "sought", "seek", "him", "her", "contact", "customer", "they"}):
            if not answered:
                # "she's my cousin", "he was my flatmate": the answerer knows them; "no idea who
                # that is": they do not.
                for i, t in said:
                    if RELATION.search(t):
                        conv.add(p, True, i, 0.6)
                        break
                    if re.search(r"\b(?:don'?t|dont|do not|never) (?:know|heard of) (?:him|her|them|any|anyone|a|who|"
                                 r"that|this)\b|\bno conozco\b|\bno idea who\b", t):
                        conv.add(p, False, i, 0.6)
                        break
        elif not answered and re.search(r"\bask(?:ed|s)?[ _](?:whether|if|about|who|what|which|for)\b|"
                                        r"\bwonder(?:ed|s)? (?:whether|if)\b",
                                        f"{p.name} {p.spec.description}".lower()):
            # "Am I talking to a robot?": the callee asked about the field's subject.
            own = (p.name_words | p.desc_words | p.related) - stems({"ask", "asked", "callee", "whether", "question"})
            hit = next((i for i, (r, t) in enumerate(conv.turns) if r == "user" and asks_back(t)
                        and own & _words_of(t)), None)
            conv.add(p, hit is not None, hit if hit is not None else (said[-1][0] if said else 0),
                     0.6 if hit is not None else 0.3)
        elif words & stems({"interest", "interested", "want", "keen"}) and not answered and any(
                OPT_OUT.search(t) for _, t in said):
            conv.add(p, False, said[-1][0], 0.5)  # who asks to be taken off the list is not interested
        elif words & stems({"call", "contact", "list", "remove", "opt", "optout", "unsubscribe", "stop"}) and \
                p.negative and not (identity and not OPT_OUT.search(" ".join(words))):
            hit = next((i for i, t in said if OPT_OUT.search(t)), None)
            if hit is not None:  # an explicit request outweighs any reading of a yes or no
                conv.add(p, True, hit, 9.0)
            elif not answered:
                conv.add(p, False, said[-1][0] if said else 0, 0.5)
        elif words & stems({"intend", "intended", "sought", "seek", "right", "wrong", "person", "speak", "reach"}) \
                and not words & stems({"know", "knows", "relationship", "interest", "interested"}):
            # Who answered is said at the start ("speaking", "no Aroha here, wrong number") and
            # outweighs later yes/no replies to other questions.
            for i, t in said[:3]:
                found = True if NOT_THEM.search(t) else False if IS_THEM.search(t) else None
                if found is not None:
                    wrong = "wrong" in words or p.negative
                    conv.add(p, found == wrong, i, 9.0 if found else 0.5 + 2.0 * (not answered))
                    break

def reasons(conv) -> None:
    """A reason nobody asked for is usually the sentence that follows the callee's decision:
    "No, don't renew. We're selling the house."."""
    for p in conv.profiles:
        if p.kind != "string" or conv.cands[p.name] or not p.words_all & REASON_WORDS:
            continue
        for i, (role, text) in enumerate(conv.turns):
            if role != "user" or i == 0 or not any(c.turn == i for cs in conv.cands.values() for c in cs if c.value
                                                  is not None):
                continue
            for sentence in re.split(r"(?<=[.!?])\s+|,\s+(?=(?:i'?m|we'?re|because|cause|since|we|they|its|it'?s|my|our|there'?s)\b)", text,
                                flags=re.I):
                cleaned = string_answer(p, sentence)
                value_only = len(cleaned.split()) <= 3 and bool(parsing.numbers_in(cleaned)) if cleaned else True
                decision = re.match(r"^\W*(?:oh )?(?:no|nope|nah|yes|yeah|yep|sure|ok|okay)\b", answers.norm(sentence))
                because = decision and re.search(r"\b(?:because|cause|since|i have|i'?ve got|i got|i'?m|we'?re)\s+\w+",
                                                 answers.norm(sentence)[decision.end():])
                if because and decision:  # "oh no i cant wednesday i have jury duty": the reason after the no
                    sentence, decision = answers.norm(sentence)[decision.end() + because.start():], None
                    cleaned = string_answer(p, sentence)
                # The reading strips the decision itself ("no thanks we rent" is "we rent"); a cleaned
                # answer that still opens on it is the decision, not a reason.
                opens_on_decision = decision is not None and answers.norm(cleaned or "").split()[:1] == \
                    answers.norm(sentence)[decision.start():].split()[:1]
                if cleaned and not opens_on_decision and not only_decision(sentence) and not sentence.rstrip().endswith("?") and \
                        not asks_back(sentence) and (len(cleaned.split()) >= 2 or re.match(
                            r"^\W*(?:i'?m|im|we'?re|because|cause)\s+\w+\W*$", answers.norm(sentence))) and \
                        not value_only and not (answers.parse_boolean(cleaned) is not None
                                                and len(cleaned.split()) <= 4) and not intent_only(sentence):
                    conv.add(p, cleaned, i, 0.3)
                    break
            if conv.cands[p.name]:
                break

def strings(conv) -> None:
    """Free text said in passing that a field of a known kind records: how the person on the line
    relates to the one sought ("this is her son"), the occasion ("it's our tenth anniversary"),
    a name beside a role ("my brother rahul will take it"), a company ("Kessler Bau GmbH"),
    a competitor's offer ("an offer from HUK")."""
    said = [(i, t) for i, (r, t) in enumerate(conv.turns) if r == "user"]
    for p in conv.profiles:
        if p.kind != "string" or any(c.value is not None for c in conv.cands[p.name]):
            continue
        words = p.words_all
        for i, text in said:
            t = answers.norm(text)
            value = None
            if words & stems({"relationship", "relation", "relate", "related"}):
                m = RELATION.search(t)
                value = m and (m.group(1) or m.group(2))
            elif words & stems({"occasion", "celebrate", "celebrating", "celebration", "event"}):
                # A personal occasion ("our anniversary") over the holiday it falls on ("valentine's").
                found = [m.group(0) for _, x in said for m in OCCASION.finditer(answers.norm(x))]
                found.sort(key=lambda w: "'" in w or w.endswith("party"))
                value = found[0] if found and found[0] in t else None
            elif words & stems({"company", "business", "employer", "organisation", "organization", "firm"}):
                m = COMPANY.search(t)
                value = m and m.group(1)
            elif words & stems({"competitor", "competing", "rival", "alternative", "other"}):
                m = re.search(r"\b(?:offer|quote|deal|price) (?:from|with|by) ((?:[a-z0-9&'-]+ ){0,2}?[a-z0-9&'-]+)"
                              r"(?= for| at| of|,|\.|$| which| that| and| as well| too| also)", t)
                # "a quote from allstate, no sorry, state farm": the name the callee settles on
                rest = re.split(r"[.!?]", t[m.start(1):])[0] if m else ""
                value = m and (corrected(rest) if corrected(rest) != rest else m.group(1))
            elif is_name_field(p):
                value = named_person(t)
            if value:
                conv.add(p, value, i, 0.4)
                break
