"""Normalises the transcripts providers hand us into [(role, text)] with role "agent" or "user".

Providers differ: lists of {"role", "text"} or {"role", "content"} with roles like assistant,
bot, customer or human, or one string of "assistant: ..." lines (Bolna).
"""

from __future__ import annotations

import re
from typing import cast

_AGENT_ROLES = {"agent", "assistant", "bot", "ai", "system_agent", "model"}
_USER_ROLES = {"user", "customer", "human", "callee", "caller", "client", "contact"}
_LINE_RE = re.compile(r"^\s*(agent|assistant|bot|ai|user|customer|human|callee)\s*:\s*(.*)$", re.I)


def _role(value) -> str | None:
    value = str(value or "").strip().lower()
    if value in _AGENT_ROLES:
        return "agent"
    if value in _USER_ROLES:
        return "user"
    return None


def turns(transcript) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(transcript, str):
        for line in transcript.splitlines():
            m = _LINE_RE.match(line)
            if m:
                # _LINE_RE matches only names _role knows, so the role is never None here.
                out.append((cast(str, _role(m.group(1))), m.group(2).strip()))
            elif out and line.strip():
                out[-1] = (out[-1][0], (out[-1][1] + " " + line.strip()).strip())
        return [(r, t) for r, t in out if t]
    if not isinstance(transcript, list):
        return out
    for item in transcript:
        if not isinstance(item, dict):
            continue
        role = _role(item.get("role") or item.get("speaker") or item.get("from"))
        text = item.get("text") or item.get("content") or item.get("message") or ""
        if role and isinstance(text, str) and text.strip():
            out.append((role, " ".join(text.split())))
    return out


def canonical_turns(transcript) -> list[dict]:
    """The form calls store: [{"role": "agent"|"user", "text": ...}] from any provider shape.

    Text without speaker labels gives no turns: guessing who said it would mislead the rules
    extractor's "the callee never spoke" check.
    """
    return [{"role": role, "text": text} for role, text in turns(transcript)]


def has_user_speech(transcript) -> bool:
    return any(role == "user" for role, _ in turns(transcript))


def as_text(transcript) -> str:
    return "\n".join(f"{role}: {text}" for role, text in turns(transcript))
