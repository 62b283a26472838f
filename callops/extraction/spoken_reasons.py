"""How people shape a reason or a complaint around its core.

"i mean it works fine most of the time but the customer service is terrible": what is granted
before "but" is not the complaint. "it just got too expensive for us": the judgement, not the
"it got" or who it was too much for. "i moved you know the new place is forty minutes away": the
first statement is the reason, what follows "you know" or "honestly" explains it.
"""

from __future__ import annotations

import re

_FILLERS = r"(?:(?:i mean|um+|uh+|oh|well|so|honestly|like|yeah|overall|generally)[,\s]+)*"
_CONCESSION = re.compile(rf"^{_FILLERS}(?:it|that|they|everything|the \w+|you guys|the rest)(?:'s|s| is| was| were| are| works| worked| went)?"
                         r"(?:\s+\w+){0,2}?\s+(?:fine|good|great|ok|okay|alright|decent|nice|lovely|well)\b[^.!?]*?[,\s]+but\s+"
                         r"(?=\w+\s+\w+)", re.I)
_GOT_TOO = re.compile(r"^(?:it|that|things|everything)\s+(?:just\s+|really\s+|kind of\s+)?(?:got|gets|was|is|'s|became|were|are|"
                      r"has been|had gotten|has gotten)\s+(?=(?:way\s+|just\s+|a bit\s+|a little\s+|far\s+|much\s+)?too\b)", re.I)
_TOO_FOR = re.compile(r"(?<=\w)\s+for (?:us|me|him|her|them|the family|my budget|our budget)$", re.I)
_YOU_KNOW = re.compile(r"(?<=\w)[,\s]+(?:you know|honestly|to be honest|frankly)[,\s]+(?=(?:the|it|its|it'?s|i|we|my|our|they|there|that)\b).*$", re.I)


def concession_removed(text: str) -> str:
    """The complaint after what the callee grants first ("it's fine but ...")."""
    m = _CONCESSION.match(text.strip())
    return text.strip()[m.end():] if m else text


def judgement_kept(text: str) -> str:
    """"it just got too expensive for us" is "too expensive"; "i moved you know the new place ..." is "i moved"."""
    text = _YOU_KNOW.sub("", text)
    bare = _GOT_TOO.sub("", text, count=1)
    return _TOO_FOR.sub("", bare) if bare != text else text
