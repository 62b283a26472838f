"""An item the callee disclaims as they list it is not one of the items.

"English, Portuguese is my native, and decent Spanish. A bit of French but not work level.": asked
which languages they can work in, the callee lists three and mentions a fourth only to rule it
out. For a field about what the callee can work with (its description says work, support,
customers, professionally), a part ending "but not work level" (fluent, professionally, good enough) is taken off before
the list is split; "salmon but not tuna" keeps salmon, since "tuna" is an item, not a level.
"""

from __future__ import annotations

import re

_LEVEL = (r"(?:at |to )?(?:a )?(?:(?:work|working|business|professional|conversational|native)(?:[\s-]+level)?|"
          r"fluent(?:ly)?|professionally|good enough|well enough|really|that well|great|confident(?:ly)?|enough)")
_DISCLAIMED = re.compile(rf"(?:^|(?<=[.,;!?]))[^.,;!?]*?\s+but\s+not\s+{_LEVEL}\b[^.,;!?]*[.,;!?]?", re.I)


def disclaimed_removed(text: str) -> str:
    """The list without the parts the callee rules out as they say them."""
    return _DISCLAIMED.sub("", text).strip()


_AT_WORK = re.compile(r"\b(?:work|working|job|support|customers?|clients?|professional(?:ly)?|business|role)\b", re.I)


def at_work(description: str) -> bool:
    """"languages they can support customers in": the items the callee can work with, not all they have."""
    return bool(_AT_WORK.search(description or ""))
