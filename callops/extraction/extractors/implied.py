"""Yes/no fields the rest of the call settles without a direct answer.

Whether the callee keeps the original appointment is seldom answered with a yes or no when they
move it: "Monday's not gonna work... Thursday, the early one" leaves `keeps_original` unanswered
while `rescheduled_to` holds the new slot. A moved booking means the original is not kept. Read
last, only for fields with no answer at all.
"""

from __future__ import annotations

from callops.extraction.matching import stems

# A field about keeping or attending the booking as it stands.
_KEEP = stems({"keep", "keeps", "kept", "original", "originally", "attend", "attending", "attends", "confirm",
               "confirmed", "still", "current", "existing", "same"})
# A field that records the booking moved to another day or time.
_MOVED = stems({"new", "reschedule", "rescheduled", "moved", "move", "alternative", "alternate", "changed", "change",
                "instead", "rebook", "rebooked"})


def moved_booking(conv) -> None:
    moved = [p for p in conv.profiles if p.kind in ("date", "datetime", "time") and p.name_words & _MOVED
             and any(c.value not in (None, []) for c in conv.cands[p.name])]
    if not moved:
        return
    turn = min(c.turn for p in moved for c in conv.cands[p.name] if c.value not in (None, []))
    for p in conv.profiles:
        if p.kind == "boolean" and p.name_words & _KEEP and not p.name_words & _MOVED and not conv.cands[p.name]:
            conv.add(p, False, turn, 0.3)
