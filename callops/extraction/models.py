"""Per-call extraction bookkeeping (the result itself lives on the Call, like CallingBox's)."""

from django.db import models
from django.db.models import Q


class ExtractionState(models.Model):
    """How extraction of one call stands: runs asked for and finished, and the terminal-event guard.

    `recheck_at` is the due time of the sweep that re-enqueues a run whose job was lost (design
    rule 1); it is cleared when a run finishes. `completed_event_emitted` is flipped by a
    conditional UPDATE, so only the first finished run of a call emits `call.completed`.
    """

    call = models.OneToOneField("calls.Call", on_delete=models.CASCADE, primary_key=True,
                                related_name="extraction_state")
    requested_runs = models.PositiveIntegerField(default=0)
    finished_runs = models.PositiveIntegerField(default=0)
    last_extractor = models.CharField(max_length=20, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    recheck_at = models.DateTimeField(null=True, blank=True)
    completed_event_emitted = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # the sweep: runs whose job may have been lost.
            models.Index(fields=["recheck_at"], name="extraction_recheck_due",
                         condition=Q(recheck_at__isnull=False)),
        ]

    def __str__(self):
        return f"extraction of call {self.call_id}: {self.finished_runs}/{self.requested_runs} runs"
