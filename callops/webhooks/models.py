"""Webhook endpoints, events, deliveries, attempts, recovery jobs and endpoint-health notifications.

An event is written in the same transaction as the call change that causes it, with one delivery
row per destination. A delivery carries its own due time (`next_attempt_at`), so the sweep can
always find what is owed even if the queue lost its jobs; each try is an attempt row.
"""

import functools
import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from callops.lib import crypto

SECRET_OVERLAP = timedelta(hours=24)

# Every delivery needs its endpoint's secrets; decrypting once per ciphertext per process is enough.
_decrypt = functools.lru_cache(maxsize=512)(crypto.decrypt_text)


class _SecretMixin:
    """A current `whsec_` secret plus the previous one, still valid until `previous_secret_expires_at`."""

    @property
    def secret(self) -> str:
        return _decrypt(self.secret_encrypted)

    def set_secret(self, secret: str, *, keep_previous: bool) -> None:
        if keep_previous and self.secret_encrypted:
            self.previous_secret_encrypted = self.secret_encrypted
            self.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
        elif not keep_previous:
            self.previous_secret_encrypted = ""
            self.previous_secret_expires_at = None
        self.secret_encrypted = crypto.encrypt_text(secret)

    def signing_secrets(self, now=None) -> list[str]:
        """Newest first; the previous secret is included while its overlap lasts."""
        now = now or timezone.now()
        out = [self.secret]
        if self.previous_secret_encrypted and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            out.append(_decrypt(self.previous_secret_encrypted))
        return out


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
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
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
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"webhook secret of org {self.organization_id}"


class WebhookEvent(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="webhook_events")
    type = models.CharField(max_length=40)
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="webhook_events")
    batch = models.ForeignKey("calls.Batch", null=True, blank=True, on_delete=models.CASCADE,
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
        """The envelope `{id, type, created, data}` as sent."""
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
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="webhook_deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    # Null means the call's own webhook_url (per call or from its agent).
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="deliveries")
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="webhook_deliveries")
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)  # every try, automatic and manual
    auto_attempts = models.PositiveSmallIntegerField(default=0)  # position in the retry schedule
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A manual or bulk re-send waiting for a worker (never touches the automatic schedule).
    manual_requested_at = models.DateTimeField(null=True, blank=True)
    manual_trigger = models.CharField(max_length=10, blank=True)
    # Lease: a worker owns the row until `claimed_until`; a killed worker's claim simply expires.
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
            # The per-endpoint in-flight cap: live leases only (released rows drop out of the index).
            models.Index(fields=["endpoint", "claimed_until"], name="whdelivery_leased",
                         condition=Q(claimed_until__isnull=False)),
        ]

    def __str__(self):
        return f"delivery {self.public_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()  # increases across automatic and manual tries
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.AUTO)
    url = models.URLField(max_length=2000)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)  # truncated to WEBHOOK_STORED_BODY_BYTES
    duration_ms = models.PositiveIntegerField(default=0)
    error_kind = models.CharField(max_length=20, blank=True)  # timeout, network, blocked, http, redirect
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number", "id"]
        indexes = [models.Index(fields=["delivery", "number"], name="whattempt_delivery")]

    def __str__(self):
        return f"attempt {self.number} of delivery {self.delivery_id}"


class RecoveryJob(models.Model):
    """A bulk re-send of failed/skipped deliveries in a window; progress is kept here."""

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
    event_type = models.CharField(max_length=40, blank=True)
    since = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    last_delivery_id = models.BigIntegerField(default=0)  # resume point, keeps the job idempotent
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)  # a stale one means its worker died
    finished_at = models.DateTimeField(null=True, blank=True)

    org_lookup = "organization"

    def __str__(self):
        return f"recovery {self.public_id} ({self.status} {self.done}/{self.total})"


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
