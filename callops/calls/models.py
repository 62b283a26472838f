"""Agents, calls, their timelines, and the API's idempotency records."""

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from . import failure_keys
from .rollups import CallQuerySet, apply, in_transaction, snapshot, touches


class CallStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    INITIATED = "initiated", "Initiated"
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    CANCELED = "canceled", "Canceled"
    FAILED = "failed", "Failed"


TERMINAL = frozenset({CallStatus.COMPLETED, CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.CANCELED,
                      CallStatus.FAILED})
ACTIVE = frozenset(set(CallStatus.values) - TERMINAL)
# Lifecycle order; every terminal status shares the top rank, so none can replace another.
RANK: dict[str, int] = {CallStatus.QUEUED: 0, CallStatus.INITIATED: 1, CallStatus.RINGING: 2, CallStatus.IN_PROGRESS: 3,
        **{s: 4 for s in TERMINAL}}


class AnsweredBy(models.TextChoices):
    HUMAN = "human", "Human"
    MACHINE = "machine", "Machine"
    UNKNOWN = "unknown", "Unknown"


class ResultStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class WebhookStatus(models.TextChoices):
    # The worst current state over the call's destinations (callops.webhooks.call_summary).
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class EventSource(models.TextChoices):
    API = "api", "API"
    USER = "user", "User"
    POLL = "poll", "Provider poll"
    CALLBACK = "callback", "Provider callback"
    SYSTEM = "system", "System"


class Agent(models.Model):
    """An organization's named calling profile on one provider account."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="agents")
    provider_account = models.ForeignKey("providers.ProviderAccount", on_delete=models.PROTECT,
                                         related_name="agents")
    name = models.CharField(max_length=100)
    # The provider-side agent / workflow / assistant id this profile calls with.
    provider_agent_id = models.CharField(max_length=200, blank=True)
    from_number = models.CharField(max_length=20, blank=True)
    instructions = models.TextField(blank=True)
    returns = models.JSONField(default=dict, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)
    # "" = the organization's default extractor; otherwise provider | llm | rules.
    extractor = models.CharField(max_length=20, blank=True)
    is_active = models.BooleanField(default=True)
    # The agent a call without `agent_id` uses (the CallingBox SDK's create names no agent). At most
    # one per organization; the flag lives here so accounts need not know about agents.
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="agent_name_per_org"),
            models.UniqueConstraint(fields=["organization"], condition=Q(is_default=True),
                                    name="one_default_agent_per_org"),
        ]

    def __str__(self):
        return self.name

    @property
    def provider(self) -> str:
        return self.provider_account.kind


class Call(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="calls")
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="calls")
    batch = models.ForeignKey("batches.Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    # A retry from triage or a batch redial points at the call it repeats.
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    attempt = models.PositiveSmallIntegerField(default=1)

    direction = models.CharField(max_length=10, default="outbound")
    to_number = models.CharField(max_length=20)
    from_number = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=12, choices=CallStatus.choices, default=CallStatus.QUEUED)

    instructions = models.TextField(blank=True)
    context = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    returns = models.JSONField(default=dict, blank=True)
    # Per-call options CallingBox's create takes: BCP-47 language, what to do on voicemail
    # ("" = the provider's default, hang up), and callingbox.tool definitions in their wire shape.
    language = models.CharField(max_length=35, blank=True)
    voicemail_action = models.CharField(max_length=20, blank=True)
    tools = models.JSONField(default=list, blank=True)

    result = models.JSONField(null=True, blank=True)
    result_status = models.CharField(max_length=10, choices=ResultStatus.choices, blank=True)
    result_error = models.TextField(blank=True)
    # Why each value of `result` was chosen: {field: {"turn", "text", "confidence"}}, null when none.
    result_evidence = models.JSONField(null=True, blank=True)
    transcript = models.JSONField(default=list, blank=True)  # [{"role": "agent"|"user", "text": ...}]
    # What the provider extracted itself (Bolna extracted_data, Dograh gathered_context, ...).
    provider_result = models.JSONField(null=True, blank=True)
    recording_url = models.URLField(max_length=2000, blank=True)

    webhook_url = models.URLField(max_length=2000, blank=True)
    webhook_status = models.CharField(max_length=10, choices=WebhookStatus.choices, blank=True)
    webhook_error = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)  # ringing began
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Billing as the provider reported it (CallingBox billed_duration_seconds and
    # billing_amount_milli_cents, Bolna total_cost); null when the provider said nothing.
    billed_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    billing_amount_milli_cents = models.BigIntegerField(null=True, blank=True)
    # CallingBox's credit reservation for the call: reserved | settled | released ("" = unknown).
    reservation_status = models.CharField(max_length=10, blank=True)
    # ISO 4217 code of billing_amount_milli_cents; estimated = worked out from the account's price
    # table because the provider reported no cost (yet): a later provider figure replaces it.
    billing_currency = models.CharField(max_length=3, blank=True)
    billing_estimated = models.BooleanField(default=False)

    # The placement's routing steps in order ({agent_id, provider, outcome, ...}); written only by
    # the process holding the dial claim (callops.calls.routing). A few entries at most.
    routing = models.JSONField(default=list, blank=True)
    # The routing profile that picked this call's agent, if any.
    routing_profile = models.ForeignKey("calls.RoutingProfile", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="calls")

    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    hangup_cause = models.CharField(max_length=200, blank=True)
    answered_by = models.CharField(max_length=10, choices=AnsweredBy.choices, blank=True)

    provider = models.CharField(max_length=20)  # the provider kind, kept for filtering
    provider_account = models.ForeignKey("providers.ProviderAccount", on_delete=models.PROTECT, related_name="calls")
    provider_call_id = models.CharField(max_length=200, blank=True)
    provider_job_id = models.CharField(max_length=200, blank=True)  # Trillet job id, Dograh trigger id, ...
    provider_status = models.CharField(max_length=100, blank=True)
    provider_reason = models.TextField(blank=True)

    # Placement guard: set by a conditional UPDATE before the provider is asked to dial, so a row
    # is dialed at most once whatever the workers do.
    dial_claimed_at = models.DateTimeField(null=True, blank=True)
    # Status sync: when the next poll is due (null = nothing to poll), and how it has gone.
    next_sync_at = models.DateTimeField(null=True, blank=True)
    sync_failures = models.PositiveSmallIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    org_lookup = "organization"

    # Its update, bulk_create and delete keep the rollups (CallRollup) in step; so does save().
    objects = CallQuerySet.as_manager()

    class Meta:
        indexes = [
            # GET /v1/calls and the dashboard list: newest first within an org, id breaks ties.
            models.Index(fields=["organization", "-created_at", "-id"], name="call_org_recent"),
            # status filters (?status=failed) on the same ordering.
            models.Index(fields=["organization", "status", "-created_at", "-id"], name="call_org_status_recent"),
            # ?agent= (with or without status and provider filters) on the same ordering: a page and
            # the capped count walk one agent's calls newest first and stop. Without it PostgreSQL
            # ANDed the status and agent indexes and sorted every match: 2.9 s for the dashboard's
            # failed/no-answer list of one agent at 1M calls (28,788 rows), bench/pages.py.
            models.Index(fields=["organization", "agent", "-created_at", "-id"], name="call_org_agent_recent"),
            # the overview's 14-day aggregate: an index-only scan on PostgreSQL (other databases
            # ignore `include` and use it as a plain (organization, created_at) index).
            models.Index(fields=["organization", "created_at"], name="call_org_created_cover",
                         include=["status", "agent", "provider", "answered_at", "result_status", "webhook_status"]),
            # ?webhook_status=failed on the list's ordering (the dashboard's Webhook filter too).
            models.Index(fields=["organization", "webhook_status", "-created_at", "-id"],
                         name="call_org_webhook_recent"),
            # search by destination number.
            models.Index(fields=["organization", "to_number"], name="call_org_to"),
            # inbound callbacks and polls find the call by the provider's id.
            models.Index(fields=["provider_account", "provider_call_id"], name="call_provider_id"),
            # the sweeper: live calls whose poll is due.
            models.Index(fields=["next_sync_at"], name="call_sync_due",
                         condition=Q(next_sync_at__isnull=False)),
            # the scheduler: queued calls waiting for their time.
            models.Index(fields=["scheduled_at"], name="call_scheduled_due",
                         condition=Q(status="queued", dial_claimed_at__isnull=True)),
            models.Index(fields=["batch", "status"], name="call_batch_status"),
            # Triage's samples and bulk actions: one failure group's calls, newest first. The
            # group's key leads, so a page of five stops after five rows however many failures the
            # window holds; with only (organization, status, created_at), PostgreSQL read every
            # failure of the status in the window and filtered it: 11 groups took 299 ms over the
            # last 24 h of 10,000,000 calls (bench/triage.py), ten times their time at 1,000,000.
            models.Index(F("organization"), F("status"), F("error_code"), F("hangup_cause"), failure_keys.reason_key(),
                         F("created_at").desc(), F("id").desc(), name="call_failure_recent",
                         condition=failure_keys.FAILURE_ROWS),
            # The same for failed extractions, keyed by their kind.
            models.Index(F("organization"), failure_keys.extraction_kind(), F("created_at").desc(), F("id").desc(),
                         name="call_extraction_failure_recent", condition=failure_keys.FAILED_EXTRACTION_ROWS),
        ]

    def __str__(self):
        return f"call {self.public_id} to {self.to_number} ({self.status})"

    def save(self, *args, **kwargs):
        fields = kwargs.get("update_fields")
        if fields is not None and not touches(fields):
            return super().save(*args, **kwargs)
        with in_transaction():
            mine = Call.objects.filter(pk=self.pk)
            before = [] if self._state.adding or self.pk is None else snapshot(mine.select_for_update())
            super().save(*args, **kwargs)
            apply(before, snapshot(Call.objects.filter(pk=self.pk)))

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def result_items(self) -> list[tuple]:
        """(field, value, evidence or None) for each result field: the call page shows why each value."""
        evidence = self.result_evidence if isinstance(self.result_evidence, dict) else {}
        return [(name, value, evidence.get(name)) for name, value in (self.result or {}).items()]

    @property
    def can_cancel(self) -> bool:
        # Once someone answered, cancelling would hang up on a live person: that is a "stop", not
        # a cancel, and CallingBox semantics say too late.
        return RANK[self.status] < RANK[CallStatus.IN_PROGRESS]


# Events still holding a raw payload: retention (callops.calls.retention) replaces an old one by {}.
PAYLOAD_KEPT = Q(payload__isnull=False) & ~Q(payload={})


class CallEvent(models.Model):
    """Append-only timeline of a call: every report, accepted or ignored, and every action."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status report"
        EXTRACTION = "extraction", "Extraction"
        ACTION = "action", "Action"
        NOTE = "note", "Note"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.STATUS)
    source = models.CharField(max_length=10, choices=EventSource.choices)
    from_status = models.CharField(max_length=12, blank=True)
    status = models.CharField(max_length=12, blank=True)  # the canonical status reported
    raw_status = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    # Ignored reports (stale, duplicate, after terminal) stay on the timeline, muted.
    ignored = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(null=True, blank=True)

    class Meta:
        # The call detail timeline: a call's events in order.
        indexes = [
            models.Index(fields=["call", "created_at", "id"], name="callevent_timeline"),
            # The retention sweep (callops.calls.retention): the oldest events still holding a
            # payload. Blanked ones ({}) leave the index, so each pass starts at the next to blank.
            models.Index(fields=["created_at"], name="callevent_payload_kept",
                         condition=PAYLOAD_KEPT),
        ]
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.status or self.kind} via {self.source}"


class IdempotencyRecord(models.Model):
    """A POST answered under an Idempotency-Key: replayed for 24 h for the same key and body."""

    # How long an answer is replayed; the purge sweep deletes older rows. The dashboard's one-time
    # form tokens are kept in the same table for the same time.
    TTL = timedelta(hours=24)

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    path = models.CharField(max_length=200)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_per_org")]
        # The sweep that deletes records past their 24 hours.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self):
        return f"Idempotency-Key {self.key}"


# Django finds an app's models in its models module.
from .rollup_models import CallDayRollup, CallRollup  # noqa: E402, F401
from .routing_models import AgentFallback, RoutingProfile, RoutingWeight  # noqa: E402, F401
