"""The language of answers: yes and no, refusals, enum options and their synonyms, free text.

No library reads conversational English this way ("no problem" is a yes, "I'd rather not say"
is no answer, "um, it was, uh, tomas? something like that" is "tomas"), so these are lists and
patterns, kept general: nothing here names a particular conversation.
"""

from __future__ import annotations

import re

# Words people use for common enum options, keyed by the option in lower case with spaces. A
# schema's own `synonyms` come first; these fill in when it has none.
ENUM_SYNONYMS = {
    "card": ("credit card", "debit card", "visa", "mastercard", "amex"),
    "cash": ("in cash",), "invoice": ("bill me", "send a bill"),
    "bank transfer": ("ach", "direct debit", "bank draft", "auto debit", "wire", "from my checking", "bank account"),
    "check": ("cheque",), "cheque": ("check",),
    "morning": ("before noon", "am"), "afternoon": ("after lunch",), "evening": ("after work", "tonight"),
    "email": ("e-mail", "mail"), "sms": ("text message", "texting", "text", "texts"),
    "phone": ("phone call", "telephone", "call"), "phone call": ("call", "ring", "phone"),
    "high": ("urgent",), "low": ("not urgent",), "maybe": ("perhaps", "not sure"),
    "annual": ("yearly", "per year", "annually", "a year"), "monthly": ("per month", "every month", "a month"),
    "yes": ("yeah", "yep", "sure"), "no": ("nope", "nah"),
    "english": ("in english",), "spanish": ("in spanish", "español"),
    "indoor": ("inside", "indoors"), "outdoor": ("outside", "outdoors", "patio", "terrace"),
    "no preference": ("either", "any", "don't mind", "doesn't matter", "whatever"),
    # A middle answer to a satisfaction scale: "somewhere in the middle", "so-so".
    "neutral": ("in the middle", "so so", "average", "neither", "middling", "okay i guess", "ok i guess"),
    "quarterly": ("every quarter", "every three months", "each quarter", "per quarter"),
    "weekly": ("every week", "each week", "per week", "once a week"),
    "daily": ("every day", "each day", "per day"),
}


def norm(text: str) -> str:
    text = (text or "").lower().replace("’", "'").replace("‘", "'")
    return " ".join(text.split())


# --- refusals and yes/no -----------------------------------------------------------------------

_REFUSAL_RE = re.compile(
    r"\b(?:(?:i'?d|i would) rather not(?: say| answer| share| give)?|prefer not to(?: say| answer| share)?|"
    r"not comfortable(?: sharing| saying| giving)?(?: that)?|(?:can|could) we skip|skip (?:that|this)|"
    r"i (?:don'?t|do not|dont) (?:know|remember|recall|have (?:it|that|one))|(?:i'?m )?not sure|no idea|"
    r"no comment|none of your business|pass on that|can'?t remember|couldn'?t (?:tell|say)|no clue|"
    r"not (?:telling|saying)|haven'?t decided|not (?:decided|certain)|dunno|(?:have|need) to think(?: about it)?|"
    r"(?:i'?ll|let me) think about it|"
    r"have to (?:find|look (?:it )?up|check)|"
    r"don'?t have (?:it|that|one)(?: on me| handy| with me| here)?|not handy|can'?t find|didn'?t catch)\b")
_NON_ANSWER_RE = re.compile(
    r"^(?:sorry,? )?(?:what was that|can you repeat|could you repeat|come again|pardon|hold on|hang on|"
    r"one moment|just a moment|let me check|give me a (?:second|sec|moment)|the line cut out|who is this|"
    r"who's calling|what's this about|what is this about)")

_YES = ["yes", "yeah", "yep", "yup", "ya", "yea", "sure", "correct", "absolutely", "definitely", "of course",
        "that's right", "thats right", "that is right", "right", "sounds good", "sounds great", "works for me",
        "that works", "that'll work", "it works", "okay", "ok", "alright", "all right", "please do", "go ahead",
        "confirmed", "i confirm", "confirm it", "affirmative", "certainly", "mm-hm", "mhm", "uh-huh", "no problem",
        "not a problem", "why not", "i think so", "i do", "i will", "i would", "i am", "i can", "we will", "we can",
        "we do", "we are", "count me in", "wouldn't miss it", "would not miss it", "for sure", "yes please",
        "i'd love to", "i would love to", "true", "exactly", "perfect", "fine", "that's fine", "great", "yeah yeah",
        "still on", "i did", "it is", "i'll be there", "ill be there", "do that",
        "let's do", "lets do", "go for it", "sign me up", "i'd like that", "that'd be great", "probably",
        # Wanting more of what was offered is a yes to interest in it.
        "i need that", "send me the info", "send me info", "send me the details", "send me something",
        "tell me more", "sounds interesting", "that might help", "might help", "i'd be interested",
        "i'm interested", "im interested", "interested", "i'm in", "happy to", "only if", "been looking",
        "we did", "it was", "they did", "she did", "he did",
        "thinking about it",
        "uh huh", "mm hmm", "mhmm", "mm-hmm", "that's me", "thats me", "that is me", "speaking", "only on", "just on",
        "don't mind", "dont mind", "i don't mind", "i dont mind", "not at all a problem",
        "go on then", "go on", "should be", "i should be", "i'll manage", "ill manage", "i already have",
        # A conditional yes is recorded at face value: "maybe if it's a lot cheaper", "as long as it's on time".
        "maybe if", "as long as", "so long as", "provided", "if it's cheaper", "if its cheaper",
        "wouldnt miss it", "already have", "already did", "i already did", "all good now", "sorted now"]
_NO = ["yeah no", "yeah nah", "yea no", "no", "nope",
       # Said instead of a no: something prevents it, it fell short, it still fails.
       "something came up", "something's come up", "somethings come up", "something has come up",
       "not particularly", "could have been better", "could've been better", "couldve been better", "could be better",
       "not great", "not good", "still not", "not working", "still broken", "i would not", "i wouldn't",
       "i wouldnt", "we would not", "we wouldn't", "we wouldnt", "nah", "not really", "i don't", "i dont", "i do not", "i can't", "i cant", "i cannot",
       "i won't", "i wont", "i will not", "i'm not", "im not", "i am not", "we can't", "we cant", "we won't",
       "we don't", "we dont", "we're not", "don't think so", "i don't think so", "negative", "unfortunately not",
       "no thanks", "no thank you", "that won't work", "won't work", "wont work", "doesn't work",
       "does not work", "can't make", "cant make", "cannot make", "not interested", "never", "not correct",
       "not right", "that's wrong", "wrong", "false", "not at all", "definitely not", "absolutely not",
       "of course not", "certainly not", "not anymore", "not any more", "i haven't", "i havent", "i didn't",
       "i didnt", "we haven't", "not yet", "no way", "not for me", "not today", "not now", "not gonna",
       "i'm good", "im good", "pass", "no longer", "not really interested", "rather not", "i'll pass", "not me",
       # Keeping what one has, asked about a change: "i'd rather keep getting paper".
       "i'd rather keep", "id rather keep", "i'd rather stick", "id rather stick", "i'll stick with", "ill stick with",
       "leave it as it is", "keep it as it is",
       "not at the moment", "not right now", "not this time", "not this year", "not for now", "not just now", "all set", "no need", "none", "please don't", "please dont",
       "i quit", "i gave up", "gave it up", "not anymore thanks",
       "maybe not", "probably not", "not all of it", "not all", "not the whole", "not the full", "not in full",
       "not quite", "not exactly", "prefer not", "i'd prefer you didn't", "id prefer you didnt", "prefer you didn't",
       "prefer you didnt", "rather you didn't",
       # Nothing known of it: "Any allergies?" "Not that I know of."
       "not that i know of", "not that i'm aware of", "not that im aware of", "not as far as i know", "none that i know of",
        "rather you didnt", "hold off", "cancel it", "need to cancel", "have to cancel", "not looking", "were not", "im not interested"]
_BOOL_RE = re.compile(r"(?<![\w'-])(" + "|".join(re.escape(p) for p in sorted(_YES + _NO, key=len, reverse=True))
                      + r")(?![\w'-])")
_NO_SET = set(_NO)


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL_RE.search(norm(text)))


def is_non_answer(text: str) -> bool:
    """'Sorry, what was that?', 'hold on': the callee has not answered yet."""
    t = re.sub(r"^(?:um+|uh+|oh|hmm+|well|mm+)[,.\s]+", "", norm(text).lstrip("hm ,.").strip())
    # A short question back ("Which one?", "Me?") is not an answer; a longer one may be.
    short_question = t.endswith("?") and len(t.split()) <= 4 and not _BOOL_RE.search(t.split("?")[0]) \
        and not re.match(r"(?:how|what) about\b", t)
    return bool(_NON_ANSWER_RE.match(t)) or short_question


_YEAH_NO_PROBLEM = re.compile(r"\b(?:yeah|yea) (?=no (?:problem|worries|bother|trouble|doubt|question|rush)s?\b)")
_CONDITIONAL = {"maybe if", "as long as", "so long as", "provided", "if it's cheaper", "if its cheaper", "only if"}
# Idioms that hold a yes/no word and answer nothing ("not gonna lie").
_IDIOM_RE = re.compile(r"\b(?:(?:i'?m )?not (?:gonna|going to) lie|no offen[cs]e|no doubt about it|no kidding|"
                       r"no pressure|no rush|no worries)\b")


def bool_mentions(text: str) -> list[tuple[int, bool]]:
    """(position, yes?) for each yes or no word, refusals and idioms removed."""
    unsure = bool(_REFUSAL_RE.search(norm(text)))
    t = _IDIOM_RE.sub(lambda m: " " * len(m.group(0)), _REFUSAL_RE.sub(lambda m: " " * len(m.group(0)), norm(text)))
    t = _YEAH_NO_PROBLEM.sub(lambda m: " " * len(m.group(0)), t)  # "yeah no problem" is a yes
    # "not sure, maybe if the parking gets sorted" is undecided; "maybe if it's cheaper" alone is a yes.
    return [(m.start(), m.group(1) not in _NO_SET) for m in _BOOL_RE.finditer(t)
            if not (unsure and m.group(1) in _CONDITIONAL)]


# A reply that echoes the question's auxiliary with a subject ("he was lovely", "we will", "I'd
# prefer you didn't"): yes unless the clause is negated.
_AUX_REPLY = re.compile(r"^\W*(?:(?:um+|uh+|oh|well|hmm+|honestly|actually)\W+)*(?:i|we|he|she|it|they|that|there)"
                        r"(?:'?ll|'?d|'?ve|'?s|'?m|'?re|\s+(?:will|would|should|could|can|might|have|has|had|am|is|are|"
                        r"was|were|do|does|did))(?:n'?t)?\b(?:\s+(?:already|still|definitely|probably|really|certainly))?([^.!?,;]*)")


def aux_reply(text: str) -> bool | None:
    m = _AUX_REPLY.match(norm(text))
    if not m or is_refusal(text):
        return None
    # "it's been a nightmare", "he was useless": the clause judges, and the judgement is the answer
    return not re.search(r"\b(?:not|never|no|nothing|none)\b|n'?t\b|\b(?:dont|didnt|wont|cant|isnt|wasnt)\b|"
                         r"\b(?:nightmare|terrible|awful|horrible|useless|rubbish|disaster|dreadful|frustrating|a mess|"
                         r"a pain|hopeless|appalling|shocking)\b", norm(text)[:m.end()])


def parse_boolean(text: str) -> bool | None:
    """The last yes or no in the text; None when there is none or the callee declined to answer."""
    found = bool_mentions(text)
    return found[-1][1] if found else None


# --- enums -------------------------------------------------------------------------------------

def spoken(option: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", option)
    return " ".join(spaced.replace("_", " ").replace("-", " ").split()).lower()


# Options written short ("mon", "thu", "jan") are said in full.
_SHORT = {"mon": "monday", "tue": "tuesday", "tues": "tuesday", "wed": "wednesday", "thu": "thursday", "thur": "thursday",
          "thurs": "thursday", "fri": "friday", "sat": "saturday", "sun": "sunday", "jan": "january", "feb": "february",
          "mar": "march", "apr": "april", "jun": "june", "jul": "july", "aug": "august", "sep": "september",
          "sept": "september", "oct": "october", "nov": "november", "dec": "december"}


def _forms(option: str, synonyms=None) -> list[str]:
    base = spoken(option)
    forms = {base} | ({_SHORT[base], _SHORT[base] + "s"} if base in _SHORT else set())
    if re.fullmatch(r"[a-z]+", base):
        forms |= {base + "s", base + "es"} | ({base[:-1] + "ies"} if base.endswith("y") else set())
    given = (synonyms or {}).get(option)
    forms |= {norm(w).replace("-", " ") for w in given} if given else set(ENUM_SYNONYMS.get(base, ()))
    if " " in base:
        forms.add(base.replace(" ", ""))
    return sorted(forms, key=len, reverse=True)


_NEGATORS = re.compile(r"(?:\bnot|\bno|\bnot the|\brather than|\binstead of|\bexcept|\bdon't want|\bdont want|\bnever|"
                       r"\bwithout|\bnot a|\bnot by)\s*$")


def enum_mentions(text: str, choices, synonyms=None) -> list[tuple[int, str, bool]]:
    """(position, option, negated) for each mention of an option, longest match first."""
    t = norm(text).replace("_", " ").replace("-", " ")
    claimed: list[tuple[int, int]] = []
    candidates, mentions = [], []
    names = {spoken(o) for o in choices}
    for option in choices:
        # A built-in synonym that is another option's own name ("mail" for email, when "mail" is an
        # option) stands for that option only.
        for form in (f for f in _forms(option, synonyms) if f == spoken(option) or f not in names):
            for m in re.finditer(r"(?<![\w])" + re.escape(form) + r"(?![\w])", t):
                candidates.append((m.start(), m.end(), option, 0))
        words = spoken(option).split()
        if len(words) > 1:
            # An option of several words said with a few between ("keep your current cover" for
            # keep_current, "upgrade to the premium plan"); an exact form outranks it.
            gapped = r"\s+(?:[\w']+\s+){0,2}?".join(re.escape(w) for w in words)
            for m in re.finditer(r"(?<![\w])" + gapped + r"(?![\w])", t):
                candidates.append((m.start(), m.end(), option, 1))
    for start, end, option, _ in sorted(candidates, key=lambda c: (c[3], -(c[1] - c[0]), c[0])):
        if any(s < end and start < e for s, e in claimed):
            continue
        claimed.append((start, end))
        mentions.append((start, option, bool(_NEGATORS.search(t[max(0, start - 14):start]))))
    return sorted(mentions)


def match_enum(text: str, choices, synonyms=None) -> str | None:
    """The option the text settles on: the last mention that is not negated ('cash, not card')."""
    t = norm(text)
    for option in choices:
        if t == option.lower() or t == spoken(option):
            return option
    found = None
    for _, option, negated in enum_mentions(text, choices, synonyms):
        if not negated:
            found = option
    return found


# --- free text ---------------------------------------------------------------------------------

_FILLER = r"(?:um+|uh+|hmm+|mm+|er+m?|oh|ah|well|so|okay|ok|sure|yeah|yes|yep|right|like|look|see|honestly|" \
          r"basically|actually|let me think|let me see|i mean|you know|i guess|i think|i'd say|i would say|" \
          r"probably|maybe|just|it was|it's|its|that's|thats|that is|it is|the answer is)"
_LEADING_FILLERS = re.compile(rf"^(?:{_FILLER}[\s,.:!…-]+)+", re.I)
_TRAILING_HEDGES = re.compile(
    r"(?:[\s,.?!]+(?:i think|i guess|i believe|or something(?: like that)?|something like that|"
    r"if i remember(?: right| correctly)?|probably|maybe|you know|i'm not sure|im not sure|"
    r"(?:or )?so|thanks|thank you|please|now|currently|these days|at the moment|right now|for sure|i reckon|"
    r"i suppose|to be honest|honestly|anyway|anyways|i'd say|id say|give or take|more or less|or whatever|"
    r"and stuff|and all that|kind of thing|if that makes sense|i believe so|i think so))+[\s.?!]*$", re.I)
# Lead-ins dropped only before a short value ("It's Maria Lopez"), not from a sentence that
# happens to start with them ("It's my mother's birthday, so ...").
_LEAD_IN = re.compile(
    r"^(?:(?:my|her|his|its|their|the|our) name(?: is|'s)|this is|that would be|that'd be|thatd be|it would be|"
    r"it'd be|it's gonna be|it will be|i'm|im|i am|call me|we use|we're with|were with|we are with|"
    r"we're using|i'm with|i work at|i work for|we have|we've got|you can use|i'd like|i would like|"
    r"we're|we are|he's|she's|he is|she is|they're|it's called|its called|called|with|from)\s+", re.I)
_SHORT_VALUE_WORDS = 6
_CORRECTION_RE = re.compile(r"(?:\bactually,?\s+no[.,]?|\bno,? wait,?|\bwait,? no,?|\bsorry,? i mean|\bi mean,|\bno,? sorry,|"
                            r"\bno no,?|\bscratch that,?|\bactually,)\s+", re.I)


def clean_string(text: str) -> str | None:
    """The substance of a free-text answer: fillers, hedges and lead-ins removed, the last correction kept."""
    text = " ".join((text or "").split())
    if not text or is_non_answer(text):
        return None
    parts = _CORRECTION_RE.split(text)
    text = parts[-1] if parts[-1].strip() else text
    if is_refusal(text) and len(text.split()) <= 8:
        return None
    text = re.sub(r"^\.+\s*", "", text)
    for _ in range(3):
        text = _TRAILING_HEDGES.sub("", _LEADING_FILLERS.sub("", text).strip()).strip()
        rest = _LEAD_IN.sub("", text, count=1)
        if rest != text and len(rest.split()) <= _SHORT_VALUE_WORDS:
            text = rest
    text = text.strip(" .!?…,;")
    return text or None


_POLITE_RE = re.compile(r"^(?:please|thanks|thank you|i think|i guess|that's it|thats it|that's all)$", re.I)


def split_list(text: str, commas: bool = True) -> list[str]:
    """Items of a spoken list; without `commas` only "and"/";" separate ("Friday, at 3pm and ...")."""
    body = clean_string(text) or ""
    separators = r"\s*(?:,|;|\band\b|\bplus\b|&|\bor\b)\s*" if commas else r"\s*(?:;|\band\b|\bplus\b|&)\s*"
    parts = [p.strip(" .,") for p in re.split(separators, body)]
    return [p for p in parts if p and not _POLITE_RE.match(p)]
