"""Free text a callee corrects or trails off from while saying it.

"sarah no sorry sandra lopez" is "sandra lopez", "allstate, no sorry, state farm" is "state farm",
"a senior engineer well actually as of last month its staff engineer" is "staff engineer": the
value said after the last correction replaces the one before it. "kevin something like that tall
guy" is "kevin" and "spanish if you have it otherwise english" is "spanish": a vague tail or a
fallback after the answer is not part of it.
"""

from __future__ import annotations

import re

# A correction said mid-answer: it needs something before it, so "i mean it works fine" (a lead-in)
# and "no, it was tess" (an answer opening on "no") are left to the lead-in rules.
_MARK = re.compile(r"(?<=\w)[,.\s]+(?:no[,.\s]+(?:sorry|wait|actually)|sorry[,.\s]+no|wait[,.\s]+no|sorry[,.\s]+i mean|"
                   r"no[,.\s]+i mean|well[,.\s]+actually|or rather|actually[,.\s]+no)[,.\s]+(?=\w)", re.I)
# What opens the corrected value and is not part of it: "as of last month its staff engineer".
_RESTART = re.compile(r"^(?:(?:as of|since|from) (?:last|this|next) (?:week|month|year)[,\s]+)?"
                      r"(?:(?:it'?s|its|it is|it was|that'?s|thats|i'?m|im|i am)\s+(?:(?:a|an)\s+)?)?", re.I)
# Said after the answer to say it is approximate or has a fallback: cut from there on.
_VAGUE_TAIL = re.compile(r"[,\s]+(?:or something(?: like that)?|something like that|or whatever|or so|(?:sort|kind) of thing|"
                         r"(?:and|or) stuff(?: like that)?|and everything|like (?:every|all|half|most|nearly|almost|constantly)|"
                         r"(?:if you (?:have|do) (?:it|that|one)[,\s]+)?otherwise|(?:if not|or else)[,\s]+(?=\w+ (?:is|would)))\b.*$", re.I)


def corrected(text: str) -> str:
    """The value after the last mid-answer correction, or the text as it was."""
    marks = list(_MARK.finditer(text))
    if not marks:
        return text
    rest = _RESTART.sub("", text[marks[-1].end():], count=1).strip(" ,.")
    return rest if rest else text


def vague_tail_removed(text: str) -> str:
    """The answer without "something like that", "or whatever" or a fallback after it."""
    head = _VAGUE_TAIL.sub("", text).strip(" ,.")
    return head if head else text
