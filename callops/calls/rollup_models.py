"""The call rollups: counters of calls per dimension tuple, per UTC hour and per UTC day.

Kept by `callops.calls.rollups` in the same transaction as every write that changes a counted
field (the Call queryset's update, create and delete go through it), so the overview, triage,
batch summaries and the comparison view read counters instead of every call in their window.
`manage.py rollups --check` compares both grains with the calls; `--rebuild` recomputes them.

Two grains of the same tuples, because a window's reading cost follows the rows in it:
- hourly (CallRollup): what any window in any time zone is assembled from; triage reads it.
- daily (CallDayRollup): a UTC day's hours added up, 1/24 of the rows for a window of whole days.
  `rollup_windows` reads the days a window covers from it and only the hours it cannot cover
  (its ragged ends, and the hours of a UTC day that fall on another local day) from the hours.

Agent, provider account and batch are plain ids, not foreign keys: this is derived data, and
"no batch" is 0 rather than NULL because NULLs never conflict in a unique index, which would
let two concurrent first inserts of the same tuple make two rows.
"""

from django.db import models
from django.db.models import Q

from . import failure_keys
from .rollups import CAUSE_STATUSES

# The tuple's dimensions after its time bucket, in the unique constraints' order.
TUPLE = ["provider_account_pk", "provider", "agent_pk", "batch_pk", "routing_profile_pk", "status", "error_code",
         "hangup_cause", "reason_key", "result_status", "extraction_cause", "webhook_status", "currency"]


class RollupCounters(models.Model):
    """A tuple's dimensions and counters, without its time bucket."""

    # No index of its own: each grain's (organization, bucket) index starts with it. Given a
    # single-column one, PostgreSQL read every counter of the organization and filtered the window:
    # triage's 7-day counters took 74 ms at 10,000,000 calls against 14.6 ms through its partial
    # index (callrollup_failures).
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+",
                                     db_index=False)
    provider_account_pk = models.BigIntegerField()
    provider = models.CharField(max_length=20)
    agent_pk = models.BigIntegerField()
    batch_pk = models.BigIntegerField(default=0)  # 0: not part of a batch
    routing_profile_pk = models.BigIntegerField(default=0)  # 0: no routing profile picked the agent
    status = models.CharField(max_length=12)
    # Triage's cause dimensions. Hangup cause and provider reason only for the statuses triage groups
    # (otherwise ""), so that the free text of successful calls does not multiply the tuples.
    error_code = models.CharField(max_length=64, blank=True)
    hangup_cause = models.CharField(max_length=200, blank=True)
    reason_key = models.CharField(max_length=120, blank=True)
    result_status = models.CharField(max_length=10, blank=True)
    extraction_cause = models.CharField(max_length=20, blank=True)  # failed extractions only
    webhook_status = models.CharField(max_length=10, blank=True)
    # The currency of cost_milli_cents ("" for calls without a cost), so sums never mix currencies.
    currency = models.CharField(max_length=3, blank=True)

    n = models.BigIntegerField(default=0)
    answered = models.BigIntegerField(default=0)  # calls with answered_at
    timed = models.BigIntegerField(default=0)  # calls with duration_seconds
    talk_seconds = models.BigIntegerField(default=0)  # sum of duration_seconds
    billed = models.BigIntegerField(default=0)  # calls with billing_amount_milli_cents
    cost_milli_cents = models.BigIntegerField(default=0)  # sum of billing_amount_milli_cents
    estimated = models.BigIntegerField(default=0)  # billed calls whose cost is an estimate (price table)
    failovers = models.BigIntegerField(default=0)  # calls whose routing took more than one attempt
    answer_waited = models.BigIntegerField(default=0)  # calls with both started_at and answered_at
    answer_wait_seconds = models.BigIntegerField(default=0)  # their sum of answered_at - started_at
    answered_talk_seconds = models.BigIntegerField(default=0)  # duration_seconds of answered calls
    # Talk time histogram of answered calls with a duration (edges: rollups.TALK_EDGES), for p90.
    talk_b00 = models.BigIntegerField(default=0)
    talk_b01 = models.BigIntegerField(default=0)
    talk_b02 = models.BigIntegerField(default=0)
    talk_b03 = models.BigIntegerField(default=0)
    talk_b04 = models.BigIntegerField(default=0)
    talk_b05 = models.BigIntegerField(default=0)
    talk_b06 = models.BigIntegerField(default=0)
    talk_b07 = models.BigIntegerField(default=0)
    talk_b08 = models.BigIntegerField(default=0)
    talk_b09 = models.BigIntegerField(default=0)
    talk_b10 = models.BigIntegerField(default=0)
    talk_b11 = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class CallRollup(RollupCounters):
    """How many of an organization's calls, created in one UTC hour, share one dimension tuple."""

    hour = models.DateTimeField()  # the UTC hour the calls were created in
    # Earliest and latest ended_at among the tuple's calls (triage's first and last seen).
    first_ended_at = models.DateTimeField(null=True, blank=True)
    last_ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The upsert's conflict target.
            models.UniqueConstraint(fields=["organization", "hour", *TUPLE], name="callrollup_tuple"),
        ]
        indexes = [
            # A batch's summary: its counters over all hours.
            models.Index(fields=["organization", "batch_pk"], name="callrollup_batch"),
            # The hours of a window the daily rollups do not cover, and the comparison's hourly
            # chart (and the organization's foreign key). Through the tuple's wide unique index
            # PostgreSQL judged a sequential scan of every organization's counters cheaper: 96 ms
            # for 14 days of hours at 10,000,000 calls, against 37 ms through this one.
            models.Index(fields=["organization", "hour"], name="callrollup_window"),
            # Triage's windows read only the failures' counters (callops.triage.counts), a fifth of
            # an hour's: 14.6 ms for 14 days at 10,000,000 calls (13.0 ms at 1,000,000) against
            # 26 ms through the tuple's index, which holds every status.
            models.Index(fields=["organization", "hour"], name="callrollup_failures",
                         condition=Q(status__in=CAUSE_STATUSES)),
            models.Index(fields=["organization", "hour"], name="callrollup_extraction_failures",
                         condition=failure_keys.FAILED_EXTRACTION_ROWS),
        ]

    def __str__(self):
        return f"{self.n} {self.status} calls at {self.hour:%Y-%m-%d %H}:00 UTC"


class CallDayRollup(RollupCounters):
    """The same tuples per UTC day: each row is the sum of its day's hourly rows.

    No first/last ended_at: only triage reads them, and it reads the hours."""

    day = models.DateTimeField()  # midnight UTC starting the day the calls were created in

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "day", *TUPLE], name="calldayrollup_tuple"),
        ]
        indexes = [
            # A batch's summary: its counters over all days.
            models.Index(fields=["organization", "batch_pk"], name="calldayrollup_batch"),
            # The windows of whole days (and the organization's foreign key).
            models.Index(fields=["organization", "day"], name="calldayrollup_window"),
        ]

    def __str__(self):
        return f"{self.n} {self.status} calls on {self.day:%Y-%m-%d} UTC"
