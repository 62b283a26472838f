"""An enum with an option and its negation ("renewing" / "not_renewing", "interested" /
"not_interested") answered with a plain yes or no to a yes/no question: "Are you planning to
renew?" "Honestly, probably not." is "not_renewing"."""

from __future__ import annotations

import re

from callops.extraction import answers
from callops.extraction.matching import asks_yes_no, last_sentence

_NEGATED = re.compile(r"^(?:not|no|non|dont|do_not|wont|will_not)_(.+)$")


def by_polarity(reply: str, question: str, choices) -> str | None:
    """The option or its negation that a yes or a no picks, when the choices hold exactly one such pair."""
    pairs = [(m.group(1), c) for c in choices if (m := _NEGATED.match(c))]
    pairs = [(plain, negated) for plain, negated in pairs if plain in choices]
    if len(pairs) != 1 or not asks_yes_no(last_sentence(question)):
        return None
    found = answers.bool_mentions(reply)
    if not found:
        return None
    plain, negated = pairs[0]
    return plain if found[0][1] else negated
