"""Outbound calling rules of an organization: who must not be called, how often, and when.

This app knows organizations and nothing of calls or batches: the calls and batches apps ask it
before they dial (see gate.py), so the dependency runs one way.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from callops.accounts.models import Organization


class SuppressionSource(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    API = "api", "Added through the API"
    IMPORT = "import", "Imported from a file"
    OPT_OUT = "opt_out", "Callee asked not to be called"
    PROVIDER = "provider", "Reported by the provider"


class Suppression(models.Model):
    """A number this organization must not call (its do-not-call list)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="suppressions")
    number = models.CharField(max_length=32)  # E.164, so any spelling of the number matches
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=SuppressionSource.choices, default=SuppressionSource.MANUAL)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    added_by_label = models.CharField(max_length=200, blank=True)  # survives user deletion; "api key X" too
    # The call whose transcript asked for it (opt-out detection); its public id, not a foreign key,
    # so this app does not depend on the calls app.
    call_public_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "number"], name="one_suppression_per_number")]
        # Serves the suppression list page and API: newest first within one organization.
        indexes = [models.Index(fields=["organization", "-created_at"], name="suppression_org_recent")]
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.number} ({self.source})"


class CallingPolicy(models.Model):
    """An organization's frequency caps, local calling hours and opt-out detection setting.

    One row per organization, created on first change; with no row every rule is at its default.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="calling_policy")
    opt_out_detection = models.BooleanField(default=True)
    # Frequency caps per number; None means no cap.
    max_calls_per_day = models.PositiveSmallIntegerField(null=True, blank=True)
    max_calls_per_week = models.PositiveSmallIntegerField(null=True, blank=True)
    # Answered calls (someone picked up) per number per 7 days, on top of the caps above: a team
    # may try a number a few times a day yet speak to its owner at most once a week.
    max_answered_per_week = models.PositiveSmallIntegerField(null=True, blank=True)
    # Local calling hours in the recipient's zone; both None means calls may go at any hour.
    hours_start = models.TimeField(null=True, blank=True)
    hours_end = models.TimeField(null=True, blank=True)
    # The zone the hours are read in for a number not tied to a place (toll-free, national mobile
    # ranges) on a call outside any batch; a batch call uses its batch's zone.
    time_zone = models.CharField(max_length=64, default="UTC")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"calling policy of {self.organization}"


class DialRecord(models.Model):
    """One call the calling rules let through to be dialed: what the frequency caps count.

    Written by the rules gate under a per-number lock, in the same transaction as the check, so
    two concurrent calls at the cap never both pass (see caps.py). It names its call by public id
    (not a foreign key) so this app does not depend on the calls app; `answered` is set when the
    call is answered, for the answered-call cap.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="dial_records")
    number = models.CharField(max_length=32)  # E.164
    call_public_id = models.UUIDField(unique=True)
    at = models.DateTimeField()
    answered = models.BooleanField(default=False)

    class Meta:
        # Serves the cap check: one number's records of the last 7 days, oldest first.
        indexes = [models.Index(fields=["organization", "number", "at"], name="dialrecord_number_recent")]

    def __str__(self):
        return f"{self.number} at {self.at:%Y-%m-%d %H:%M}"
