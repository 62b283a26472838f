"""Conversations written in tests as alternating lines, the agent's first."""

from callops.extraction.extractors.rules import extract_turns


def turns(*lines):
    return [{"role": "agent" if i % 2 == 0 else "user", "text": t} for i, t in enumerate(lines)]


def ask(kind: str, description: str, question: str, reply: str, when):
    """What one field of `kind`, described so, gets from one question and its reply at `when`."""
    schema = {"field": {"type": kind, "description": description}}
    return extract_turns(turns(question, reply), schema, when).get("field")
