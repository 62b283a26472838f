"""Which part of a yes/no exchange carries its polarity.

"Should we set it to renew automatically so you don't get a call like this?" asks a positive
question: the "don't" is in the purpose clause after "so", not in what is asked. And "I'd rather
stay in Manchester" to "would you move for it?" is a no: a preference for something other than
what was asked, unless the preferred verb is the question's own ("I'd rather pay online").
"""

from __future__ import annotations

import re

from .answers import norm

# "<word> so (that) you ...", "<word> in case we ...": a clause saying why, not what is asked. After
# a discourse word ("okay so you don't want calls?") "so" opens the question itself.
_PURPOSE = re.compile(r"\b([a-z']+) (?:so(?: that)?|in case|because|otherwise) (?:you|we|i|it|they|there|he|she)\b")
_DISCOURSE = {"okay", "ok", "and", "right", "alright", "great", "perfect", "fine", "good", "well", "oh", "yes", "yeah",
              "sure", "then", "now", "thanks", "noted", "lovely", "cool"}


def asked_part(question: str) -> str:
    """The question without the clauses that give a reason or purpose for it, normalised."""
    q = norm(question)
    for m in _PURPOSE.finditer(q):
        if m.group(1) not in _DISCOURSE:
            return q[:m.start(0) + len(m.group(1))]
    return q


_RATHER = re.compile(r"\b(?:i'?d|id|i would|we'?d|wed|we would) (?:much |really |honestly )?(?:rather|prefer to|prefer)"
                     r"((?: [a-z']+){1,4})")
_FILLER = {"a", "an", "the", "to", "you", "it", "we", "if", "that", "just", "really", "be", "have", "do", "go", "get",
           "keep", "not"}


def _root(word: str) -> str:
    return word[:4] if len(word) > 4 else word


def rather(reply: str, question: str) -> bool | None:
    """A preference said instead of a yes or no: a yes when it prefers what was asked, else a no;
    None when the reply states no preference (or declines outright: "I'd rather not")."""
    m = _RATHER.search(norm(reply))
    if not m:
        return None
    words = m.group(1).split()
    if words[0] == "not":
        return None  # "rather not" is read elsewhere: declining, or declining to say
    content = next((w for w in words if w not in _FILLER), None)
    if content is None:
        return None
    asked = {_root(w) for w in re.findall(r"[a-z']+", norm(question)) if w not in _FILLER}
    return _root(content) in asked


# "Would moving be an issue?", "is that a problem for you?": a no is the willing answer.
_PROBLEM_ASKED = re.compile(r"\b(?:be|is|are|was|were|that'?s|it'?s) (?:that |it |this |there )?(?:a |an |any )?(?:big |real )?"
                            r"(?:problem|issue|trouble|concern|hassle)s?\b")
_FINE = re.compile(r"\b(?:fine|no problem|not a problem|no issue|not an issue|no trouble|no worries|all good|okay|ok|"
                   r"that works|works for me|no bother|not at all)\b")


def problem_answer(reply: str, question: str, field: str) -> bool | None:
    """The answer to a question asking whether something is a problem, as whether the callee is fine
    with it; None for other questions, or when the field records the problem itself."""
    if re.search(r"problem|issue|concern|trouble|hassle", field.lower()):
        return None
    sentence = re.split(r"(?<=[.!?])\s+", norm(question).strip())[-1]
    if not _PROBLEM_ASKED.search(sentence):
        return None
    r = norm(reply)
    if _FINE.search(r):
        return True
    first = re.search(r"\b(no|nope|nah|not really|yes|yeah|yep|it would|that would|kind of|a bit)\b", r)
    if first is None:
        return None
    return first.group(1) in ("no", "nope", "nah", "not really")


# "I'm not paying anything until...", "I don't think I even owe that", "I can't afford that": the
# amount or date the agent stated is not accepted.
_WONT_PAY = re.compile(r"\b(?:i|we)(?:'?m| am|'?re| are)? (?:not|never|don'?t|dont|do not|won'?t|wont|will not|can'?t|cant|"
                       r"cannot|refuse to)(?: [a-z']+){0,3}? (?:pay|paying|owe|commit|committing|agree|agreeing|accept|"
                       r"accepting|afford)\b")


def wont_pay(reply: str) -> bool:
    """The callee says they will not pay, commit to or accept what was stated."""
    return bool(_WONT_PAY.search(norm(reply)))
