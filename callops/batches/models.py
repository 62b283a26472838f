"""Batches: a campaign (Batch), its recipients (BatchRecipient) and the rows it refused (BatchRejection).

The tables keep the names they had when these models lived in the calls app (`db_table`), so
raw SQL and the COPY import (services.insert_recipients) address the same tables as before.
"""

import uuid

from django.db import models
from django.utils import timezone


class BatchStatus(models.TextChoices):
    CREATED = "created", "Created"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"
    FAILED = "failed", "Failed"


BATCH_FINISHED = frozenset({BatchStatus.COMPLETED, BatchStatus.STOPPED, BatchStatus.FAILED})


class Batch(models.Model):
    """A campaign: recipients (BatchRecipient rows) dialed under its settings and lifecycle.

    Settings live on the row so the dispatcher (callops.batches.dispatch) needs nothing else;
    the recipients' progress lives on BatchRecipient, one row per phone number.
    """

    class Mode(models.TextChoices):
        FANOUT = "fanout", "callops fan-out"
        PROVIDER = "provider", "Provider batch API"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="batches")
    agent = models.ForeignKey("calls.Agent", on_delete=models.PROTECT, related_name="batches")
    # When set, each call's agent is the profile's pick for that call (callops.calls.routing),
    # `agent` staying the batch's nominal one (shown on the batch, used by provider-run batches).
    routing_profile = models.ForeignKey("calls.RoutingProfile", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="batches")
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=BatchStatus.choices, default=BatchStatus.CREATED)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.FANOUT)

    # Import: what the file looked like and what was kept.
    phone_column = models.CharField(max_length=100, blank=True)
    columns = models.JSONField(default=list, blank=True)
    default_region = models.CharField(max_length=2, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    recipient_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)

    # Schedule: null start_at = as soon as it is started. The calling window is in each
    # recipient's local time (derived from the number); default_timezone covers numbers whose
    # zone is unknown.
    start_at = models.DateTimeField(null=True, blank=True)
    default_timezone = models.CharField(max_length=64, default="UTC")
    window_start_hour = models.PositiveSmallIntegerField(null=True, blank=True)  # inclusive, 0-23
    window_end_hour = models.PositiveSmallIntegerField(null=True, blank=True)  # exclusive, 1-24
    window_days = models.JSONField(default=list, blank=True)  # ISO weekdays 1=Mon..7=Sun; [] = every day
    # The distinct recipient zones (BatchRecipient.tz values), so the dispatcher checks the window
    # once per zone instead of scanning recipients.
    timezones = models.JSONField(default=list, blank=True)

    # Throughput.
    max_concurrency = models.PositiveIntegerField(default=10)
    calls_per_minute = models.PositiveIntegerField(default=60)
    # Token bucket for pacing, refilled at calls_per_minute; updated under the batch row lock.
    pace_tokens = models.FloatField(default=1.0)
    pace_updated_at = models.DateTimeField(null=True, blank=True)

    # Retries: total attempts per recipient, the waits between them (seconds; the last repeats),
    # and which outcomes are worth another attempt.
    max_attempts = models.PositiveSmallIntegerField(default=1)
    retry_intervals = models.JSONField(default=list, blank=True)
    retry_on = models.JSONField(default=list, blank=True)

    # Circuit breaker: pause when failed/ended > threshold over the last window, given min_calls.
    breaker_threshold = models.FloatField(null=True, blank=True)
    breaker_min_calls = models.PositiveIntegerField(default=20)
    breaker_window_seconds = models.PositiveIntegerField(default=300)
    # Calls that ended before this do not count (set on resume, so old failures do not re-trip it).
    breaker_reset_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=500, blank=True)

    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Provider-native batches: the provider's batch id.
    provider_batch_id = models.CharField(max_length=200, blank=True)
    # When the sweep last ticked this batch; it ticks the longest-waiting first, so with more
    # batches than one pass can tick every batch still gets its turn (null = never ticked).
    last_ticked_at = models.DateTimeField(null=True, blank=True)

    org_lookup = "organization"

    class Meta:
        db_table = "calls_batch"
        indexes = [
            # GET /v1/batches and the dashboard list: newest first within an org.
            models.Index(fields=["organization", "-created_at", "-id"], name="batch_org_recent"),
            # the batch sweep: batches that may have work to do.
            models.Index(fields=["status"], name="batch_status"),
        ]

    def __str__(self):
        return self.name or str(self.public_id)

    @property
    def is_finished(self) -> bool:
        return self.status in BATCH_FINISHED


class RecipientState(models.TextChoices):
    PENDING = "pending", "Waiting"  # an attempt is due at next_attempt_at
    DIALING = "dialing", "Calling"  # last_call is the live attempt
    DONE = "done", "Done"  # no more attempts; outcome says how it ended
    CANCELED = "canceled", "Canceled"  # the batch was stopped before this one was dialed


class BatchRecipient(models.Model):
    """One phone number of a batch; each attempt at it is a Call (last_call is the latest)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="recipients")
    row_number = models.PositiveIntegerField()  # line in the uploaded file, for the user's reference
    phone = models.CharField(max_length=20)
    context = models.JSONField(default=dict, blank=True)
    # IANA zone(s) of the number, ";"-joined when the number spans several; "" = batch default.
    tz = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=RecipientState.choices, default=RecipientState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=12, blank=True)  # the final call status

    class Meta:
        db_table = "calls_batchrecipient"
        indexes = [
            # the dispatcher: due recipients of a batch in file order.
            models.Index(fields=["batch", "state", "next_attempt_at"], name="recipient_due"),
            # the per-recipient table and export, in file order, filtered by outcome.
            models.Index(fields=["batch", "row_number"], name="recipient_rows"),
            models.Index(fields=["batch", "outcome"], name="recipient_outcome"),
        ]
        constraints = [models.UniqueConstraint(fields=["batch", "phone"], name="recipient_phone_per_batch")]

    def __str__(self):
        return f"{self.phone} ({self.state})"


class BatchRejection(models.Model):
    """A row of the uploaded file that was not imported, and why (downloadable as CSV)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rejections")
    row_number = models.PositiveIntegerField()
    phone = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300)
    row = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "calls_batchrejection"
        indexes = [models.Index(fields=["batch", "row_number"], name="rejection_rows")]

    def __str__(self):
        return f"row {self.row_number}: {self.reason}"
