"""Webhook endpoints, events, deliveries, attempts, recovery jobs and endpoint-health notifications.

An event is written in the same transaction as the call change that causes it, with one delivery
row per destination. A delivery carries its own due time (`next_attempt_at`), so the sweep can
always find what is owed even if the queue lost its jobs; each try is an attempt row.
"""

import functools
import json
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from callops.lib import crypto

SECRET_OVERLAP = timedelta(hours=24)
# Old secrets kept signing after rotations (Svix's MAX_OLD_KEYS): rotating more often than this
# within 24 h drops the oldest one early.
MAX_OLD_SECRETS = 10

# Every delivery needs its endpoint's secrets; decrypting once per ciphertext per process is enough.
_decrypt = functools.lru_cache(maxsize=1024)(crypto.decrypt_text)


def _live_old_secrets(old_secrets, now) -> list[dict]:
    """The entries of an `old_secrets` list whose overlap has not ended, with `_expires` parsed."""
    out = []
    for entry in old_secrets or []:
        try:
            expires = datetime.fromisoformat(entry["expires_at"])
        except (KeyError, TypeError, ValueError):
            continue
        if expires > now:
            out.append({**entry, "_expires": expires})
    return out


def signing_secrets(secret_encrypted: str, old_secrets, now=None) -> list[str]:
    """Newest first: the current secret, then every old one still in its overlap.

    Raises ValueError when a secret cannot be decrypted with the configured keys.
    """
    now = now or timezone.now()
    return [_decrypt(secret_encrypted)] + [_decrypt(e["secret"]) for e in _live_old_secrets(old_secrets, now)]


class _SecretMixin:
    """A current `whsec_` secret plus up to MAX_OLD_SECRETS old ones, each valid for 24 h after the
    rotation that retired it. Deliveries are signed with all of them (one `v1,` entry each), so a
    receiver that still holds any unexpired secret keeps verifying while it switches."""

    # The model's own fields, which every class using the mixin declares.
    secret_encrypted: str
    old_secrets: list[dict]

    @property
    def secret(self) -> str:
        return _decrypt(self.secret_encrypted)

    def _live_old(self, now) -> list[dict]:
        return _live_old_secrets(self.old_secrets, now)

    def set_secret(self, secret: str, *, keep_previous: bool) -> None:
        now = timezone.now()
        old = []
        if keep_previous:
            old = [{k: v for k, v in e.items() if k != "_expires"} for e in self._live_old(now)]
            if self.secret_encrypted:
                old.insert(0, {"secret": self.secret_encrypted, "expires_at": (now + SECRET_OVERLAP).isoformat()})
        self.old_secrets = old[:MAX_OLD_SECRETS]
        self.secret_encrypted = crypto.encrypt_text(secret)

    def signing_secrets(self, now=None) -> list[str]:
        """Newest first: the current secret, then every old one whose overlap has not ended."""
        return signing_secrets(self.secret_encrypted, self.old_secrets, now)

    @property
    def old_secrets_expire_at(self) -> list[datetime]:
        """When each still-valid old secret stops signing, newest rotation first."""
        return [e["_expires"] for e in self._live_old(timezone.now())]

    @property
    def previous_secret_expires_at(self) -> datetime | None:
        """The last moment any old secret still signs (None when only the current one does)."""
        return max(self.old_secrets_expire_at, default=None)


def all_events() -> list[str]:
    return ["*"]


class WebhookEndpoint(_SecretMixin, models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    enabled_events = models.JSONField(default=all_events, blank=True)  # ["*"], event types, or "call.*"
    headers = models.JSONField(default=dict, blank=True)  # custom headers sent with every delivery
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Paused endpoints hold their deliveries (still pending) until resumed; disabled ones skip them.
    paused = models.BooleanField(default=False)
    # Deliveries in flight to this endpoint at once (1 gives ordered, serial delivery).
    max_in_flight = models.PositiveSmallIntegerField(default=4)
    secret_encrypted = models.TextField()
    # [{"secret": <encrypted>, "expires_at": <ISO 8601>}], newest rotation first.
    old_secrets = models.JSONField(default=list, blank=True)
    # Start of the current failure streak: set by a failure, cleared by any success.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # Failed attempts since the last success (aborted ones aside); reset by a success or re-enabling.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_notified = models.BooleanField(default=False)
    exhausted_notified_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    org_lookup = "organization"

    class Meta:
        # The endpoint list and event fan-out: an org's endpoints.
        indexes = [models.Index(fields=["organization", "created_at"], name="whendpoint_org")]
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.url

    def matches(self, event_type: str) -> bool:
        for pattern in self.enabled_events or ["*"]:
            if pattern == "*" or pattern == event_type:
                return True
            if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
                return True
        return False

    @property
    def state(self) -> str:
        if not self.enabled:
            return "disabled"
        return "paused" if self.paused else "enabled"


class OrgWebhookSecret(_SecretMixin, models.Model):
    """The organization's signing secret for per-call and agent webhook URLs (created lazily)."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE,
                                        related_name="webhook_secret")
    secret_encrypted = models.TextField()
    old_secrets = models.JSONField(default=list, blank=True)  # as on WebhookEndpoint
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"webhook secret of org {self.organization_id}"


class WebhookEvent(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="webhook_events")
    type = models.CharField(max_length=40)
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="webhook_events")
    batch = models.ForeignKey("batches.Batch", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="webhook_events")
    # The exact bytes sent (signatures cover bytes; re-serialising JSON could reorder keys).
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    org_lookup = "organization"

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"], name="whevent_org_recent")]

    def __str__(self):
        return f"{self.type} {self.webhook_id}"

    @property
    def payload(self) -> dict:
        """The envelope `{id, type, created, api_version, timestamp, data}` as sent."""
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header and envelope `id`: the receiver's dedupe key, never changes."""
        return f"msg_{self.public_id.hex}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Trigger(models.TextChoices):
    AUTO = "auto", "Automatic"
    MANUAL = "manual", "Manual"
    BULK = "bulk", "Bulk recovery"


class WebhookDelivery(models.Model):
    # Every delivery row is updated at least twice (leased, then recorded), so each index costs
    # writes on the hot path: the organization and endpoint foreign keys get no index of their
    # own, because whdelivery_org_recent and whdelivery_endpoint start with those columns.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="webhook_deliveries", db_index=False)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    # Null means the call's own webhook_url (per call or from its agent).
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="deliveries", db_index=False)
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="webhook_deliveries")
    # Where it was last sent (each attempt row keeps its own). Endpoint deliveries always go to the
    # endpoint's current URL, so after an endpoint's URL changes this follows on the next attempt.
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)  # every try, automatic and manual
    auto_attempts = models.PositiveSmallIntegerField(default=0)  # position in the retry schedule
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A manual or bulk re-send waiting for a worker (never touches the automatic schedule).
    manual_requested_at = models.DateTimeField(null=True, blank=True)
    manual_trigger = models.CharField(max_length=10, blank=True)
    # Re-sends asked for one at a time by a person or an API key (bulk recoveries not counted).
    manual_retry_count = models.PositiveIntegerField(default=0)
    # The bulk recovery that asked for the pending re-send; cleared once that attempt is recorded,
    # which is how the recovery counts rows actually sent.
    recovery_job = models.ForeignKey("RecoveryJob", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", db_index=False)
    # Lease: a worker owns the row until `claimed_until`; a killed worker's claim simply expires.
    # Neither column is indexed, so taking a lease can be a HOT update (no index writes).
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    org_lookup = "organization"

    class Meta:
        indexes = [
            # The sweep: pending deliveries whose automatic attempt is due.
            models.Index(fields=["next_attempt_at"], name="whdelivery_due",
                         condition=Q(status="pending", next_attempt_at__isnull=False)),
            # The sweep: manual re-sends waiting for a worker.
            models.Index(fields=["manual_requested_at"], name="whdelivery_manual",
                         condition=Q(manual_requested_at__isnull=False)),
            # GET /v1/webhook_deliveries and the dashboard: newest first within an org.
            models.Index(fields=["organization", "-created_at", "-id"], name="whdelivery_org_recent"),
            # Endpoint page and bulk recovery: one endpoint's deliveries by status.
            models.Index(fields=["endpoint", "status", "created_at"], name="whdelivery_endpoint"),
            # A recovery's re-sends still waiting to be sent (the sweep closes finished recoveries).
            models.Index(fields=["recovery_job"], name="whdelivery_recovery",
                         condition=Q(recovery_job__isnull=False)),
        ]

    def __str__(self):
        return f"delivery {self.public_id} ({self.status})"


# Attempts still holding their bodies: a sent request body is never empty, and retention
# (callops.webhooks.retention) blanks both bodies of an old attempt to "".
ATTEMPT_BODY_KEPT = ~Q(request_body="")


class WebhookAttempt(models.Model):
    # Indexed by whattempt_delivery (delivery, number), which also serves the foreign key.
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts",
                                 db_index=False)
    number = models.PositiveIntegerField()  # increases across automatic and manual tries
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.AUTO)
    url = models.URLField(max_length=2000)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)  # truncated to WEBHOOK_STORED_BODY_BYTES
    duration_ms = models.PositiveIntegerField(default=0)
    # timeout, network, blocked, http, redirect, aborted (the receiver said stop), internal, config
    error_kind = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number", "id"]
        indexes = [
            models.Index(fields=["delivery", "number"], name="whattempt_delivery"),
            # The retention sweep (callops.webhooks.retention): the oldest attempts still holding
            # their request body (never empty when sent); blanked ones leave the index.
            models.Index(fields=["created_at"], name="whattempt_body_kept", condition=ATTEMPT_BODY_KEPT),
        ]

    def __str__(self):
        return f"attempt {self.number} of delivery {self.delivery_id}"


class RecoveryJob(models.Model):
    """A bulk re-send of failed, skipped and retrying deliveries matching a filter; progress is kept here.

    `total` is the count shown before starting; `marked` how many rows the job asked to re-send;
    `done` how many of those re-sends were actually made (an attempt row exists), `delivered` how
    many of them succeeded. The job is done once marking finished and every marked row was sent.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="webhook_recoveries")
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="recoveries")
    inline_only = models.BooleanField(default=False)  # only per-call / agent webhook URLs
    event_type = models.CharField(max_length=40, blank=True)
    # "failed", "skipped", "retrying" (waiting for an automatic retry), or all three when blank.
    delivery_status = models.CharField(max_length=10, blank=True)
    since = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0)
    marked = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    marking_done = models.BooleanField(default=False)
    last_delivery_id = models.BigIntegerField(default=0)  # resume point, keeps the job idempotent
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)  # a stale one means its worker died
    finished_at = models.DateTimeField(null=True, blank=True)

    org_lookup = "organization"

    def __str__(self):
        return f"recovery {self.public_id} ({self.status} {self.done}/{self.total})"

    @property
    def waiting(self) -> int:
        return max(0, self.marked - self.done)

    @property
    def failed_again(self) -> int:
        return max(0, self.done - self.delivered)


class Notification(models.Model):
    """An endpoint-health notice shown on the dashboard (and emailed to owners and admins)."""

    class Kind(models.TextChoices):
        FAILING = "failing", "Failing"
        EXHAUSTED = "exhausted", "Retries exhausted"
        RECOVERED = "recovered", "Recovered"
        DISABLED = "disabled", "Disabled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="webhook_notifications")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="notifications")
    message = models.TextField()
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    org_lookup = "organization"

    class Meta:
        # The dashboard's notice list: unread first within an org, newest first.
        indexes = [models.Index(fields=["organization", "read", "-created_at"], name="whnotice_org")]
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.kind}: {self.message[:60]}"


def lock_in_id_order(pks) -> set[int]:
    """Lock these deliveries' rows in ascending id order; every writer that changes several
    deliveries in one transaction does this first. An UPDATE ... WHERE id IN (...) locks rows in
    whatever order its plan reads them, so two writers taking overlapping sets that way deadlocked:
    a recovery marking a chunk while a worker recorded attempts of the same deliveries
    (bench/reliability.py bad_input). Taken in one order, the second writer waits for the first.

    Returns the ids found: a delivery deleted meanwhile (with its endpoint) has no row to lock."""
    return set(WebhookDelivery.objects.select_for_update(no_key=True).filter(pk__in=pks).order_by("pk")
               .values_list("pk", flat=True))
