"""Free-text answers: the minimal answer a person would record from a whole reply.

"um, it was, uh, tomas? something like that" is "tomas", "oh no i cant wednesday i have jury duty"
gives the reason "jury duty", "one oh zero two three" is the code "10023", "my brother rahul will
take it" names "rahul". No library reads replies this way; the patterns here are general and name
no particular conversation.
"""

from __future__ import annotations

import re

from callops.extraction import answers, parsing
from callops.extraction.bare_verdicts import verdict_only
from callops.extraction.lead_ins import frame_removed, judged_removed
from callops.extraction.matching import (
    _ASKS_WHY,
    _STOPWORDS,
    OCCASION,
    OPT_OUT,
    REASON_WORDS,
    RELATION,
    Profile,
    _words,
    asks_yes_no,
    is_name_field,
    stem,
    stems,
)
from callops.extraction.self_corrections import corrected, vague_tail_removed
from callops.extraction.self_descriptions import work_part
from callops.extraction.spoken_lists import determiners_split, distinct, run_on_items, statement_cut
from callops.extraction.spoken_reasons import concession_removed, judgement_kept

_JUNK = re.compile(r"^(?:(?:no|nope|nah),? (?:that'?s it|thats it|that'?s all|thats all|nothing(?: else)?|i'?m good|all good)|"
                   r"sorry|no|non|nope|mate|yes|yeah|ok|okay|sure|hmm+|um+|uh+|ugh|hey|hi|hello|nothing|none|n/?a|"
                   r"actually|honestly|really|definitely|please|thanks|thank you|"
                   r"not really|that's it|thats it|that's all|whoever|whatever|whichever|anyone|anybody|no preference|"
                   r"(?:it )?doesn'?t matter|i don'?t mind|(?:well )?(?:a )?(?:few|couple(?: of)?|bunch of|lots of|several) (?:things|reasons)|"
                   r"(?:which|that(?! (?:was|is|would be|'?d be|will be)\b)|and|but|so)\s.*)$")
_ROLE = (r"(?:assistant|vp|boss|manager|wife|husband|son|daughter|partner|colleague|friend|brother|sister|mum|mom|dad|"
         r"cell|mobile|phone|number|line|cfo|ceo|md|neighbou?r|cousin|uncle|aunt|mother|father|nephew|niece|foreman|"
         r"supervisor|receptionist|secretary|coworker|flatmate|roommate|guy|driver|husband's|wife's|office)")
# Words that follow a role and are not a name ("my brother will take it").
_NOT_NAME = _STOPWORDS | {"will", "can", "is", "does", "should", "would", "has", "usually", "normally", "takes", "gets",
                          "handles", "signs", "deals", "knows", "lives", "works", "said", "says", "too", "also",
                          "instead", "though", "actually", "please", "again", "there", "here", "now", "then"}
_NAMED = (re.compile(rf"\b(?:my|our|his|her|the)\s+(?:\w+'s\s+)?(?:\w+\s+)?{_ROLE}(?:'s)?(?:\s+{_ROLE})?,?\s+([a-z]+)\b"),
          re.compile(r"\b(?:ask for|speak to|speak with|talk to|named|called|name is|name's|names|name was|goes by)\s+"
                     r"(?:(?:big|little|old|young|mr|mrs|ms|miss|dr|doctor)\.?\s+)?([a-z]+)\b"))
_HEDGE_WORDS = re.compile(r"^(?:ideally|hopefully|roughly|approximately|around|about|mostly|definitely|i'd say|id say|"
                          r"i would say|hey|hi|hello|sorry|look|listen|honestly|well|oh|ah|kind of|sort of|kinda|sorta|"
                          r"probably|maybe|perhaps|basically|usually|normally|generally|mainly|i think|i guess|like|officially|technically)[,\s]+", re.I)
# Said after the value and not part of it: "the forty two mostly", "quiet room if possible",
# "behind the side gate would be best".
_TAIL_HEDGES = re.compile(r"(?:[\s,]+(?:mostly|usually|normally|generally|mainly|obviously|fluently|sometimes|"
                          r"occasionally|as well|too|also|though|really|i think|i guess|i suppose|if possible|"
                          r"if you can|if you could|if you have (?:it|one|them)|if that'?s (?:ok|okay|possible|alright)|"
                          r"(?:would|will|'?d) be (?:best|better|great|good|ideal|perfect|lovely|nice|easier)|(?:is|are) (?:best|better|ideal|fine|good|easier)|"
                          r"unfortunately|anymore|any more|to be fair|sadly|luckily|"
                          r"works(?: best)?|please|thanks|thank you))+$", re.I)
_STATE = re.compile(r"^(?:i'?m|im|i am|we'?re|we are|i'?ll be|we'?ll be|i was|we were|because|cause|since|as|i have|"
                    r"i'?ve got|i got|we have|we'?ve got)\s+(.+)$", re.I)
# "moving to Brisbane for work in December": when it happens is not the reason.
_WHEN_TAIL = re.compile(r"\s+(?:in|by|from|next|this|that|on|till|until|last|at the end of)\s+(?:the\s+)?(?:next\s+|this\s+|end of\s+)?"
                        r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun|week|month|year|"
                        r"summer|spring|autumn|fall|winter|morning|afternoon|evening|night|weekend|day)\w*"
                        r"(?:\s+\w+)?$", re.I)
_CONSEQUENCE = re.compile(r"(?<=\S)\s+(?:so|which means|and now)\s+(?:things|it|its|it'?s|that|we|we'?re|i|i'?m|im|"
                          r"money|the|there)\b.*$", re.I)
_EXPLANATION = re.compile(r"(?<=\S)\s+(?:because|cause|'cause|since|as)\s+(?:i|we|it|its|it'?s|they|the|my|our|there|"
                          r"that|he|she|you)\b.*$", re.I)
# Speech-to-text runs sentences together: "the wait was kind of long i was sitting there like forty
# minutes" is a statement, then a new one where a subject and its verb start again.
_NEW_CLAUSE = re.compile(r"\s+(?=(?:i|we|they|he|she) (?:was|were|had|am|'?m|'?ve|have|got|just|mean|[a-z]{3,}ed)\b)", re.I)


def _first_clause(text: str) -> str:
    for m in _NEW_CLAUSE.finditer(text):
        head = text[:m.start()]
        if re.search(r"\b(?:and|but|so|or|then)$", head, re.I) and re.match(r"\s+\w+ [a-z]{3,}ed\b", text[m.start():], re.I) \
                and not re.match(r"\s+\w+ (?:was|were|had)\b", text[m.start():], re.I):
            continue  # "great but he arrived late": a clause joined on is part of the statement
        if len(head.split()) >= 4 and re.search(r"\b(?:was|is|were|are)\b|'s\b", head, re.I):
            return re.sub(r"\s+(?:and|but|so|or|then)$", "", head, flags=re.I)  # "my kid is sick and | i have to ..."
    return text


# A name, then what is said about its owner: "tom at number six ...", "the concierge marco was amazing".
_LEADING_NAME = re.compile(r"^(?:(?:yeah|yes|oh|um+|uh+)[,\s]+)*(?:(?:the|our|my|your) [a-z]+ )?([a-z]+(?: [a-z]+)?)(?=\s+"
                           r"(?:at|from|in|on|is|was|'s|usually|always|will|can|who|does|did|takes|said|he|she|and|would|"
                           r"should|might|could|has|had|handles|deals|over|next door|downstairs|upstairs)\b)", re.I)
# A bare judgement beside what it is about ("it was lovely, everyone loved the croissants").
_JUDGEMENT = re.compile(r"(?:really |so |very |pretty |just )?(?:great|good|fine|lovely|amazing|excellent|perfect|brilliant|"
                        r"wonderful|fantastic|ok|okay|alright|nice|awesome|terrible|awful|bad|horrible|meh)", re.I)
_PLACE_WORDS = stems({"place", "where", "location", "spot", "leave", "safe"})
_RELATIVE = re.compile(r"^(.{3,40}?)\s+(?:that|which|who)\s+\w+", re.I)



def named_person(text: str) -> str | None:
    """The name said beside a role: "my brother rahul will take it", "call my wife's cell, maria"."""
    # Fillers between the role and the name ("my neighbour um her names priya") are not names.
    t = re.sub(r"\b(?:um+|uh+|er+m?|hmm+|like|you know)\b,?\s*", "", answers.norm(text))
    for pattern in _NAMED:  # each on its own: "ask for my husband declan" holds both
        for m in pattern.finditer(t):
            name = m.group(1)
            if name not in _NOT_NAME and not re.fullmatch(_ROLE, name) and len(name) > 1:
                # "a guy called peter mills": a surname said with the name when it is introduced as one
                surname = re.match(r"\s+([a-z]{2,})\s*(?:[,.!?]|$)", t[m.end():])
                if m.group(0).split()[0] in ("called", "named", "name") and surname and \
                        surname.group(1) not in _NOT_NAME | _NOT_SURNAME:
                    return f"{name} {surname.group(1)}"
                return name
    return None


_NOT_SURNAME = {"hes", "shes", "its", "thats", "theyre", "who", "he", "she", "i", "we", "from", "at", "in", "on", "or",
                "but", "and", "thanks", "please", "sir", "mate", "ok", "okay", "yeah", "yes", "no", "right"}


def _finish(profile: Profile, text: str, reason: bool) -> str | None:
    """The minimal answer: lead-ins, hedges, possessives and trailing explanation taken off."""
    text = judged_removed(text or "")  # "text is probably best for me"
    for _ in range(2):
        text = answers.clean_string(_TAIL_HEDGES.sub("", _HEDGE_WORDS.sub("", text or "").strip(" .,!?"))) or ""
    if reason:
        text = judgement_kept(text)
        m = _STATE.match(text)  # "I'm driving", "because the ATM was broken"
        if m and len(m.group(1).split()) <= 9:
            text = _WHEN_TAIL.sub("", m.group(1))
        # "i lost my job last month so things are tight": what happened, not who or its consequence
        text = _CONSEQUENCE.sub("", text)
        text = _WHEN_TAIL.sub("", re.sub(r"^(?:i|we)\s+(?=\w+ed\b|lost|got|had|broke|forgot|found|left|moved|went|took|"
                                          r"made|fell|hurt|dont|don'?t|didnt|didn'?t|cant|can'?t|never|just|really)",
                                          "", text, flags=re.I)) or text
    else:
        # "add flood cover because we had water in the basement": the answer, not why
        text = _EXPLANATION.sub("", text)
    m = re.match(r"^(?:we use|we have|we've got|we're using|we are using|we go with|we went with|it's|it is|"
                 r"that (?:was|is|would be|'?d be|will be)|it was|"
                 r"(?:i'?m|im|i am|i work as|i was) (?:a|an)(?= \w+ \w)|"
                 r"we're with|we are with|(?:we|i) (?:talked|spoke) (?:to|with)|(?:we|i) looked at|(?:we|i) tried|"
                 r"(?:we|i) switched to|(?:we|i) got (?:a quote|quotes|one) from|(?:we'?re|i'?m|we are|i am) (?:still |currently |now )?(?:at|with))"
                 r"\s+(.+)$", text, re.I)
    if m:
        head = _RELATIVE.match(m.group(1))
        if head and len(head.group(1).split()) <= 4:  # "we use a mobile canner that comes out monthly"
            text = re.sub(r"^(?:a|an|the)\s+", "", head.group(1), flags=re.I)
        else:
            # "we went with geico they were like half the price": the choice, not what is said of it
            text = re.sub(r"(?<=\w)\s+(?:they|it|he|she)\s+(?:were|was|are|is|had|have)\b.*$", "", m.group(1), flags=re.I)
    # "oh sorry no it was tess not jess": the corrected value, without the correction around it
    text = re.sub(r"^(?:(?:oh|sorry|actually|wait)[,\s]+)*(?:no|nope)[,\s]+(?=(?:it'?s|its|it was|it is|that'?s|thats|"
                  r"the|my|our)\b)", "", text, flags=re.I)
    # "on the back porch not the front the front gets the sun": the choice, not the one turned down
    text = answers.clean_string(re.sub(r"(?<=\w)[,\s]+not (?:the |a )?[a-z]+(?:$|\s+(?=(?:the|it|its|it'?s|that|they|i|we)\b).*$)",
                                       "", text, flags=re.I)) or text
    # "you can leave it behind the bin": where, not the permission; "under garcia": the name
    text = re.sub(r"^(?:you can|you could|you may|feel free to)\s+", "", text, flags=re.I)
    if profile.words_all & _PLACE_WORDS:
        text = re.sub(r"^(?:just\s+)?(?:leave|put|drop|pop)\s+(?:it|them)\s+(?=\w)", "", text, flags=re.I)
    if is_name_field(profile):
        text = re.sub(r"^(?:under|it'?s under|book it under|put it under)\s+(?=\w)", "", text, flags=re.I)
    text = re.sub(r"^(?:by|in|around|before|from|until|after|on|early|late|mid)[\s-]+(?=(?:jan|feb|mar|apr|may|jun|jul|aug|"
                  r"sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)\w*$)", "", text, flags=re.I)  # "by June"
    if len(text.split()) <= 6:  # "my doctor cancelled the order"; articles stay ("the downtown office")
        text = re.sub(r"^(?:my|our)\s+", "", text, flags=re.I)
    text = re.sub(r"\b(?!(?:oh|one|two|three|four|five|six|seven|eight|nine|zero|no|bye|very|really|so)\b)([a-z]{2,}) \1\b", r"\1",
                  text, flags=re.I)  # "sarah sarah jones": said twice; digits stay ("four four one nine")
    text = re.sub(r"^(?:a|an)\s+(?=\w+\s+\w)", "", text, flags=re.I)  # "a 2019 honda civic"; "the" stays
    allergy = _ALLERGY.search(text)
    if allergy and profile.words_all & stems({"allergy", "allergies", "allergic", "intolerance", "dietary"}):
        text = allergy.group(1)  # "hes allergic to penicillin"
    # Hedges uncovered by the lead-ins taken off above: "(we got a quote from) aviva as well",
    # "(im) currently a senior accountant"
    text = _TAIL_HEDGES.sub("", re.sub(r"^(?:currently|presently|still|now)\s+(?=\w+\s+\w)", "", text.strip(" .,!?"),
                                       flags=re.I)).strip(" .,!?")
    if not text or _JUNK.match(text.lower()):
        return None
    return text


# A recorded greeting: the call reached voicemail, and nothing in it answers a question.
GREETING = re.compile(r"\b(?:leave (?:a|your) (?:message|name)|after the (?:beep|tone)|at the tone|record your message|"
                      r"voice ?mail|mailbox|(?:can'?t|cannot|unable to) (?:take|answer|come to) (?:your|the|my) (?:call|phone)|"
                      r"(?:is|are) not available|you'?ve reached|you have reached)\b")
# "No, nothing really, it was great": nothing to report, whatever praise follows.
_NOTHING = re.compile(r"^\W*(?:(?:honestly|um+|uh+|oh|well|hmm+|erm?|eh)[\s,.!]+)*(?:(?:no|nope|nah|not really|nothing|none|"
                      r"i don'?t (?:really )?have anything|not that i can think of|i can'?t think of anything|"
                      r"can'?t think of anything|really|at all|honestly)(?:[\s,.!]+|$))+(?:really|at all|to be honest|honestly)?[\s,.!]*")
_PRAISE = re.compile(r"^\W*(?:(?:it|that|everything|all|it all|the \w+)\s+(?:was|were|is|'s|went)\s+(?:\w+\s+)?"
                     r"(?:great|good|fine|perfect|lovely|excellent|brilliant|amazing|wonderful|fantastic|spot on|smooth)|"
                     r"(?:its|thats|it'?s|that'?s)\s+(?:\w+\s+)?"
                     r"(?:great|good|fine|perfect|lovely|excellent|brilliant|amazing|wonderful|fantastic|spot on|smooth)|"
                     r"(?:all|everything) (?:good|fine|great|perfect)\b|(?:thanks|thank you|keep it up)\W*$|"
                     r"(?:you|you guys|y'?all) (?:were|are|did|have been) (?:\w+ )?(?:great|amazing|fantastic|brilliant|lovely|wonderful)\b|"
                     r"(?:whoever|whatever|whichever|anyone|anybody|no preference|either)\W*$)")


def _echo_removed(reply: str, question: str) -> str:
    """"What could you do better... hmm, I'd say answer the phone faster": the callee repeating the
    question before answering it is not the answer."""
    m = re.match(r"^\W*([^.?!,…]{3,80}?)(?:\.\.\.|…|\?|,|\.)\s*(\S.*)$", reply)
    if not m or not question:
        return reply
    said = {stem(w) for w in re.findall(r"[a-z0-9']+", m.group(1).lower()) if w not in _STOPWORDS}
    asked = {stem(w) for w in re.findall(r"[a-z0-9']+", question.lower())}
    if len(m.group(1).split()) >= 3 and said and len(said & asked) >= 0.7 * len(said):
        return m.group(2)
    return reply


def string_answer(profile: Profile, reply: str, question: str = "") -> str | None:
    if GREETING.search(answers.norm(reply)):
        return None
    reply = frame_removed(_echo_removed(reply, question), question)  # "the main reason was ..."
    if question and asks_yes_no(question) and re.match(r"^\W*(?:no|nope|nah)[,.\s]+(?:just|only|simply)\b", answers.norm(reply)):
        return None  # "Is anyone celebrating?" "no just dinner": there is nothing to record
    nothing = _NOTHING.match(answers.norm(reply))
    if nothing:
        rest = answers.norm(reply)[nothing.end():]
        if not rest.strip(" .,!?") or _PRAISE.match(rest):
            return None  # "No, nothing really, it was great."
    # "um i dunno maybe more parking": not knowing, then a tentative answer, which is the answer
    tentative = re.match(r"^\W*(?:(?:um+|uh+|oh|well|hmm+|honestly)\W+)*(?:i dunno|i don'?t know|dont know|not sure|no idea)[,.\s]+"
                         r"((?:maybe|probably|perhaps|i guess|i suppose|i'?d say)[,\s]+(?:like[,\s]+)?\w+\s+\w+.*)$", answers.norm(reply))
    if tentative:
        reply = tentative.group(1)
    first_sentence = re.split(r"[.;!?]", answers.norm(reply).strip(" .,"), maxsplit=1)[0]
    if answers.is_refusal(first_sentence) or re.search(r"\b(?:don'?t have (?:it|that|one)|didn'?t catch|have to (?:find|look)|"
                                                       r"not handy|can'?t find|no idea|no clue|not in front of me|not interested)\b",
                                                       first_sentence):
        return None
    # A reason field, or any free text asked for with "why" / "what happened": the answer is a reason.
    reason = bool(profile.words_all & REASON_WORDS) or bool(_ASKS_WHY.search(answers.norm(question)))
    if reason:
        reply = _after_decision(reply)
    if reason or re.search(r"\b(?:better|improve|wrong|fix|change|complain|worse|disappoint)", f"{question} {profile.spec.description}",
                           re.I):
        reply = concession_removed(reply)  # "it works fine most of the time but the service is terrible"
    work = work_part(re.split(r"[.;!?]", reply.strip(), maxsplit=1)[0],
                     bool(profile.words_all & stems({"title", "role", "position", "occupation", "job"})))
    if work and profile.words_all & stems({"title", "role", "position", "occupation", "job", "employer", "company"}):
        reply = work  # "i work for acme logistics as a dispatcher": the part this field records
    text = answers.clean_string(reply)
    if not text or _JUNK.match(text.lower().strip(" .!?")):
        return None
    if is_name_field(profile) or re.match(r"\W*who\b", profile.spec.description or ""):
        # "that'd be my vp, marcus", "my assistant dana": the name, not the role; after a correction,
        # the name corrected to ("my neighbour sarah no sorry sandra")
        named = named_person(corrected(text))
        if named:
            return named
        text = re.sub(rf"\b(?:my|our|his|her|the)\s+(?:\w+'s\s+)?(?:\w+\s+)?{_ROLE}\b,?\s*",
                      "", text, flags=re.I).strip(" ,.") or text
        text = answers.clean_string(text) or text
        lead = _LEADING_NAME.match(text)
        if lead and lead.group(1).lower() not in _NOT_NAME:
            return lead.group(1)  # "Tom at number six usually takes stuff", "the concierge marco was amazing"
    if profile.words_all & stems({"occasion", "celebrate", "celebrating", "celebration"}):
        m = OCCASION.search(answers.norm(reply))
        if m:
            return m.group(0)
    if profile.words_all & stems({"relationship", "relation", "relate", "related"}):
        m = RELATION.search(answers.norm(reply))
        if m:
            return m.group(1) or m.group(2)
    # The first sentence holds the answer; what follows explains it. For a reason, a first sentence
    # that only says the decision ("No, don't renew. We're selling the house.") is not it.
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", text) if x.strip(" .,!?")]
    while reason and len(sentences) > 1 and (_ONLY_DECISION.match(answers.norm(sentences[0])) or verdict_only(sentences[0])):
        sentences = sentences[1:]
    while len(sentences) > 1 and _JUNK.match(sentences[0].lower().strip(" .,!?")):
        sentences = sentences[1:]  # "Honestly? The parking.": a filler said as a sentence of its own
    first = vague_tail_removed(corrected(_first_clause((sentences[0] if sentences else text).strip(" .,!?"))))
    raw = re.split(r",\s*", first)
    finished = [_finish(profile, p, reason) for p in raw]
    parts = [p for p in finished if p]
    if not parts:
        return None
    first = parts[0]
    if len(parts) > 1:
        scored = [(len((profile.name_words | profile.desc_words) & _words(p)), -i, p) for i, p in enumerate(parts)]
        best = max(scored)
        # Else the shortest, unless the reply opens with the answer and explains it after
        # ("just the waiting room coffee, it was cold").
        opener = parts[0] if len(raw) == 2 and finished[0] and not re.match(
            r"(?:i|i'?m|i'?ve|we|we'?re|it|it'?s|that|this|he|she|they|there)\b", raw[0], re.I) and re.match(
            r"(?:it|that|this|they|he|she) (?:was|is|were|are|'s)\b", raw[1], re.I) else None
        # Else the first that says something of its own: what follows a comma is usually its detail
        # ("behind the side gate, by the bins", "a big red suitcase, hard shell"), unless the first
        # only judges ("it was lovely, everyone loved the croissants").
        # A part that opens on a yes or no answers the question asked, not this field ("no we switched
        # in the fall, it's cigna now").
        said = [p for p in parts if not _PRAISE.match(p) and not _JUDGEMENT.fullmatch(p) and not re.match(r"(?:it|that|this)(?:'s| is| was)? (?:like|about)\b", p)
                and not re.match(r"(?:no|nope|nah|yes|yeah|yep|not)\b", p, re.I)]
        first = best[2] if best[0] > 0 else opener or (said[0] if said else parts[0])
    if re.search(r"\b(?:code|number|zip|pin|id|reference|account|postcode)\b", f"{profile.name} "
                 f"{profile.spec.description}".replace("_", " ").lower()):
        # "one oh zero two three": "oh" among digits is a zero
        first = _oh_as_zero(first)
        first = re.sub(r"\b(\d) (?=\d\b)", r"\1", parsing.digits(first, pairs=False))
        if not re.search(r"\d", first):
            return None  # a number, code or id has digits; "same number, yes" is not one
    return _finish(profile, first, reason)


_DECISION = re.compile(r"^\W*(?:oh |um |uh |well )?(?:no|nope|nah|yes|yeah|sorry|unfortunately)?[,\s]*(?:i|we) (?:can'?t|cant|cannot|"
                       r"won'?t|wont|couldn'?t|can not)(?: make it| do it| come| make)?(?: \w+day| that| then| tomorrow| today)?"
                       r"[,.\s]+(?=(?:because|cause|since|as|i have|i'?ve got|i got|i'?m|we'?re|we have|my|our)\b)")


# The decision a reason follows: "no thanks", "not this year", "i totally forgot", "i need to move it,".
_OPENER = re.compile(r"^\W*(?:(?:oh|ah|um+|uh+|well|hmm+|so)[,.\s]+)*(?:(?:no|nope|nah|sorry|unfortunately|thanks|thank you|"
                     r"no thank you|not this (?:year|time|month|week)|not (?:now|today|right now|at the moment|really)|"
                     r"i'?m afraid not|(?:i|we) (?:totally |completely |clean )?forgot|oh no)(?:[,.!\s]+|$))+")
_DECIDED = re.compile(r"^\W*(?:(?:oh|ah|um+|uh+|well|actually|so)[,.\s]+)*(?:(?:i|we)(?:'?ll| will)? (?:need|have|want|got|"
                      r"had|'?ve got|'?d like) to|(?:i|we) (?:need|must|should)|(?:i'?m|im|we'?re|were) (?:gonna|going to))\s+"
                      r"(?:move|change|cancel|reschedule|push|switch|stop|leave|drop|skip|postpone|go)\b[^,.;!?]*?"
                      r"(?:[,.;!]\s+|\s+(?=because\b|cause\b|since\b|as\b))")
_BECAUSE = re.compile(r"\b(?:because|cause|'cause|since)\s+(?=\w+\s+\w+)")
_SO_THAT = re.compile(r"\s+so\s+(?=(?:its|it'?s|it|we|we'?re|i|i'?m|im|they|there|that|the)\b)")


_ONLY_DECISION = re.compile(r"^(?:(?:oh|ah|um+|uh+|well|right|okay|ok|so)[,.\s]+)*(?:(?:no|nope|nah|yes|yeah|yep|sure|sorry)[,.\s]*)?"
                            r"(?:(?:please )?(?:don'?t|do not) \w+(?: it| that| them)?(?: please)?|(?:i|we) (?:don'?t|do not|no longer) "
                            r"(?:need|want) (?:it|that|this|them)(?: anymore| any more)?|(?:just )?cancel (?:it|that)(?: please)?|"
                            r"(?:i|we) (?:can'?t|cannot|won'?t) (?:make it|come|do it)|(?:i|we) (?:need|have) to (?:cancel|move|change|"
                            r"reschedule)(?: it| that)?|no|nope|yes|yeah|oh|right|okay|not anymore|not this (?:year|time))\W*$")


def only_decision(sentence: str) -> bool:
    """"No, don't renew.", "just cancel it": a decision with no reason in it."""
    return bool(_ONLY_DECISION.match(answers.norm(sentence)))


def _after_decision(reply: str) -> str:
    """"oh no i cant wednesday i have jury duty", "no thanks we rent so its not our roof",
    "I need to move it, my flight got changed": for a reason, what follows the decision, up to its
    consequence ("so its not our roof")."""
    t = answers.norm(reply)
    m = _DECISION.match(t) or re.match(
        r"^\W*(?:no|nope|not really|not now|not right now|not a good time)[,.\s]+(?=(?:i'?m|im|we'?re|were)\b)",
        t)  # "not really im driving"
    rest = t[m.end():] if m else None
    if rest is None:
        for pattern in (_OPENER, _DECIDED):
            m = pattern.match(t)
            # "i completely forgot about it": what is left must say something, not "about it"
            if m and len(t[m.end():].split()) >= 2 and not re.fullmatch(r"\W*(?:about|of) (?:it|that|this|them)\W*", t[m.end():]):
                t = t[m.end():]
                rest = t
    if rest is None:
        return reply
    because = _BECAUSE.search(rest)
    if because and because.start() > 0 and _DECIDED.match(rest[:because.start()] + " because "):
        rest = rest[because.end():]  # "im gonna switch to another company because they quoted me way cheaper"
    head = _SO_THAT.split(rest, maxsplit=1)[0]
    return head if len(head.split()) >= 2 else rest


_DIGIT_WORD = re.compile(r"^(?:\d+|zero|oh|o|one|two|three|four|five|six|seven|eight|nine)$")


def _oh_as_zero(text: str) -> str:
    words = text.split(" ")
    return " ".join("zero" if w.lower() in ("oh", "o") and any(
        0 <= k < len(words) and _DIGIT_WORD.match(words[k].lower().strip(",.")) for k in (i - 1, i + 1)) else w
        for i, w in enumerate(words))




def intent_only(sentence: str) -> bool:
    t = answers.norm(sentence)
    return bool(OPT_OUT.search(t)) or bool(re.match(r"^\W*(?:hey|hi|hello|sorry|thanks|thank you|okay|ok)\W*$", t))


# Said before a list and not part of it: "let's do the chicken", "both of them so bella and max".
_LIST_LEAD = re.compile(r"^(?:(?:let'?s (?:do|go with|have|get)|lets (?:do|go with|have|get)|we'?ll (?:have|take|do|go with)|"
                        r"i'?ll (?:have|take|do|go with)|we'?d like|i'?d like|can (?:we|i) (?:get|have|do)|we want|i want|"
                        r"we need|i need|we (?:usually |mostly )?(?:use|get|have|do)|i (?:usually |mostly )?(?:use|get|have|do)|"
                        r"(?:we|i) (?:looked at|considered|compared|tried|checked out|talked to|got quotes from)|"
                        r"(?:both|all|all three|the two|the three)(?: of them| of those| of us)?,?(?: so| that'?s| which is| namely)?)\s+)+",
                        re.I)
# What is said about an item and is not the item: its level, how often, a hedge.
_ITEM_LEAD = re.compile(r"^(?:(?:mostly|mainly|some|a bit of|a little|a little bit of|also|plus|and|decent|basic|fluent|"
                        r"conversational|native|good|some basic|sometimes|usually|occasionally|often|obviously|definitely|"
                        r"just|only|maybe|probably|honestly|then|like)\s+)+", re.I)
_ITEM_TAIL = re.compile(r"(?:\s+(?:to share|for the table|for me|for him|for her|for us|for the kids|please|obviously|fluently|"
                        r"mostly|mainly|sometimes|occasionally|too|as well|also|though|really|i think|i guess|if possible|"
                        r"if you can|if you have (?:it|them|one)|of course|now and then|every so often|mornings?|afternoons?|"
                        r"evenings?|nights?|a bit|a lot|lately|recently|a little|for (?:most|all|the most part|everything)(?: things| of it)?))+$", re.I)
_NONE_ITEMS = re.compile(r"(?:no|nope|nah|none|nothing|not really|not that i know of|not that i'?m aware of)"
                         r"(?:\W+(?:no|none|nothing|thanks|at all|really|whatsoever))*", re.I)
_SAID_OF = re.compile(r"^(?:he|she|it|they|one of (?:us|them)|(?:my|our|his|her|their) \w+)(?:'s| is| are| has| was| were)?"
                      r"(?:\s+been)?\s+(?!(?:a|an|the|not|no|fine|ok|okay|good)\b)(\w.*)$", re.I)
_CANT_HAVE = re.compile(r"^.*?\b(?:can'?t|cant|cannot|doesn'?t|doesnt|don'?t|dont|won'?t|wont) (?:have|eat|do|drink|take|"
                        r"stand|handle)\s+(\w.*)$", re.I)
# "one guest is allergic to nuts": the allergen, not the guest.
_ALLERGY = re.compile(r"\b(?:allergic|allergy|allergies|intolerant|intolerance|sensitive|sensitivity)\s+(?:to|is|are)\s+(.+)$", re.I)


def string_items(text: str) -> list[str]:
    items = []
    # "mainly cleaning but also maybe gardening": "but also" adds an item; a bare "but" starts a comment
    text = re.sub(r"\s+but (?:also|as well)\s+", ", ", text, flags=re.I)
    body = re.sub(r"(?<=\w)[.!?]\s+", ", ", re.split(r"\s+but\s+", text)[0])
    # Speech-to-text drops the commas: "a sofa two armchairs and a coffee table", "mondays wednesdays and fridays"
    body = re.sub(r"(?<=[a-z]{2}) (?!a (?:bit|lot|little|while|tad|day|week|month|year)\b)"
                  r"(?=(?:a|an|two|three|four|five|six|some|a couple of|a few|another) [a-z])", ", ", body,
                  flags=re.I)
    body = re.sub(r"\b((?:mon|tues|wednes|thurs|fri|satur|sun)days?) (?=(?:mon|tues|wednes|thurs|fri|satur|sun)day)", r"\1, ",
                  body, flags=re.I)
    body = determiners_split(body)  # "the couch the bookshelf"
    body = _LIST_LEAD.sub("", answers.clean_string(body) or "")
    for part in answers.split_list(body):
        allergy = _ALLERGY.search(part)
        if allergy:
            part = allergy.group(1)
        # "my son cant have peanuts", "one of us is vegan", "she's been limping a bit": the item said of someone
        said_of = _CANT_HAVE.match(part) or _SAID_OF.match(part)
        if said_of:
            part = said_of.group(1)
        if re.match(r"(?:i|i'?ve|i'?m|we|we'?ve|we'?re|it|it'?s|that|this|he|she|they|there|you)\b", part, re.I) or \
                re.fullmatch(r"(?:any|all|either|both|none|each)(?: one)?(?: of (?:those|them|these|the above))?|whatever|"
                             r"anything|everything|the lot", part.strip(" .,"), re.I):
            continue
        # "portuguese is my native", "decent spanish": the item, not what is said about it
        part = statement_cut(re.sub(r"\s+(?:is|are|was|were|would be|'?d be)\s+.*$", "", part, flags=re.I))
        part = _LIST_LEAD.sub("", part)
        cleaned = answers.clean_string(_ITEM_TAIL.sub("", _ITEM_LEAD.sub("", part)))
        if not cleaned or _NONE_ITEMS.fullmatch(cleaned) or re.fullmatch(answers._FILLER, cleaned, re.I):
            continue  # "no none", "honestly"
        # "the risotto", "a veggie one", "my grandmother's china cabinet": the thing itself
        cleaned = re.sub(r"^(?:a|an|the|some|one|two|my|our|his|her|their)\s+(?:\w+'s\s+)?", "", cleaned, flags=re.I)
        cleaned = re.sub(r"(?<=\w)\s+ones?$", "", _ITEM_TAIL.sub("", cleaned))
        cleaned = _ITEM_LEAD.sub("", cleaned).strip(" ,.")
        if _JUNK.match(cleaned.lower()) or re.fullmatch(r"(?:i )?(?:almost |nearly |totally )?forgot|my bad|oops|(?:good)?bye|see you|cheers|(?:oh )?wait|hang on",
                                                         cleaned, re.I):
            continue  # "oh and the mirror too, sorry, almost forgot"
        if len(cleaned.split()) <= 2 and answers.parse_boolean(cleaned) is not None:
            continue  # "Perfect.", "yes please": an acknowledgement, not an item
        if cleaned and not answers.is_refusal(cleaned) and len(cleaned.split()) <= 4:
            items.extend(run_on_items(cleaned))  # "invoicing time tracking": two items
    return distinct(items)
