"""What a callee says of their own work: "i work for acme logistics as a dispatcher" holds both the
employer ("acme logistics") and the title ("dispatcher"); each field takes its own part."""

from __future__ import annotations

import re

_LEAD = r"^(?:(?:yeah|yes|so|um+|uh+|well|oh|right now|at the moment|currently)[,\s]+)*"
_WORKS = re.compile(_LEAD + r"(?:i|we)\s+(?:currently\s+|still\s+|now\s+)?work\s+(?:for|at|with|in)\s+(.+?)(?:\s+as\s+(?:a|an|the)?\s*(.+))?$", re.I)
_AS = re.compile(_LEAD + r"(?:i|we)\s+(?:currently\s+|still\s+|now\s+)?work\s+as\s+(?:a|an|the)?\s*(.+?)(?:\s+(?:for|at|with)\s+(.+))?$", re.I)


def work_part(text: str, wants_title: bool) -> str | None:
    """The employer or (wants_title) the title in "i work for X as a Y" / "i work as a Y at X"; None when not said so."""
    m = _WORKS.match(text.strip())
    if m:
        return m.group(2) if wants_title else m.group(1)
    m = _AS.match(text.strip())
    if m:
        return m.group(1) if wants_title else m.group(2)
    return None
