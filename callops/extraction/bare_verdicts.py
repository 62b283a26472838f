"""A verdict said before what happened is not the reason for it.

"scheduling was a pain, like a four. i was on hold for twenty minutes": asked what went wrong or
why, a person records the hold, not "scheduling was a pain". A sentence that only passes a verdict
(and perhaps repeats the score) gives way to the sentence after it.
"""

from __future__ import annotations

import re

from callops.extraction import answers

_VERDICT = (r"(?:a )?(?:pain|nightmare|joke|disaster|mess|letdown|let down|terrible|awful|bad|horrible|poor|rubbish|"
            r"frustrating|annoying|disappointing|meh|not great|not good|not ideal|great|good|fine|ok|okay|alright|"
            r"lovely|amazing|excellent|brilliant|perfect|decent|average|so so)")
_SCORE = (r"(?:[,\s]+(?:like|about|maybe|probably|say|so|id say|i'?d say)?\s*(?:a |an )?"
          r"(?:one|two|three|four|five|six|seven|eight|nine|ten|\d+)(?: out of (?:ten|10))?)?")
_ONLY_VERDICT = re.compile(rf"^(?:(?:honestly|well|um+|uh+|oh|so|yeah|overall)[,\s]+)*(?:it|that|this|everything|(?:the )?\w+)(?: \w+)?"
                           rf"\s+(?:was|is|were|are|'s|s|has been|have been)\s+(?:(?:just|really|so|pretty|very|kind of|kinda|"
                           rf"honestly|a bit|a bit of|quite)\s+)*{_VERDICT}{_SCORE}\W*$")


def verdict_only(sentence: str) -> bool:
    """"scheduling was a pain, like a four", "it was just awful": a verdict with nothing that happened."""
    return bool(_ONLY_VERDICT.match(answers.norm(sentence)))
