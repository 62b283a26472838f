"""Conditions set aside when reading a yes/no's polarity.

"Call this number if no answer" is a field about calling, not a negative one, and "if you're not
home, can we leave it with a neighbour?" asks a positive question: a negation inside an "if" or
"unless" clause describes when, not what is asked.
"""

from __future__ import annotations

import re

# The clause runs from "if" to a comma, or to the auxiliary that opens the question proper
# ("if no one answers should we call"), or to the end of a description.
_CONDITION = re.compile(r"\b(?:if|unless|in case|whenever)\b[^,.;?!]*?(?:[,.;?!]|(?=\b(?:should|shall|can|could|would|will|"
                        r"do|does|may|is|are|want|ok|okay)\b(?! not\b| no\b| be\b)(?=\s+(?:i|we|you|they|it|someone|he|"
                        r"she|that)\b))|$)")


def without_conditions(text: str) -> str:
    """The text with its "if ..." clauses blanked out."""
    return _CONDITION.sub(" ", text)
