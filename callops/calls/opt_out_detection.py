"""When a call's final transcript has the callee asking not to be called again, suppress the number.

Run where the transcript is final: by the extraction run (callops.calls.results), which waits for
a late transcript before it reads one.
"""

from __future__ import annotations

import logging

from callops.extraction.transcript import turns
from callops.rules import opt_outs, suppressions
from callops.rules.models import SuppressionSource

from .models import Call, CallEvent, EventSource

log = logging.getLogger(__name__)


def detect(call: Call, *, source: str = EventSource.SYSTEM) -> bool:
    """Suppress the call's number if its callee opted out (and the organization detects it)."""
    if not call.to_number or not suppressions.opt_out_detection_on(call.organization):
        return False
    phrase = opt_outs.opt_out_phrase(turns(call.transcript))
    if phrase is None:
        return False
    row, created = suppressions.add(
        call.organization, call.to_number, reason=f"asked on the call: \u201c{phrase[:150]}\u201d",
        source=SuppressionSource.OPT_OUT, actor="opt-out detection", call_public_id=call.public_id)
    if not created:
        return False  # already on the list (an earlier call, or a re-run of this one)
    # A note on the timeline, so whoever reads the call sees why the number is now refused.
    CallEvent.objects.create(call=call, kind=CallEvent.Kind.NOTE, source=source, status="",
                             from_status=call.status,
                             note=f"the callee asked not to be called again; {row.number} added to the "
                                  "suppression list"[:300])
    log.info("call %s: %s suppressed after an opt-out", call.public_id, row.number)
    return True
