"""Triage reviews: a failure group someone looked at, hidden until it happens again."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class TriageReview(models.Model):
    """The latest review of one failure group (kind + cause key) in one organization.

    A group whose last occurrence is not after `reviewed_at` is hidden from the triage page; a new
    occurrence brings it back without anyone touching this row.
    """

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="triage_reviews")
    # "call" | "extraction" | "webhook", and the group's cause key (see callops.triage.sources).
    kind = models.CharField(max_length=20)
    cause = models.CharField(max_length=300)
    reviewed_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_by_label = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)

    org_lookup = "organization"

    class Meta:
        # The table keeps the name it had when the model lived in the calls app, so SQL and
        # database tooling written against it still hold.
        db_table = "calls_triagereview"
        # One row per group; the triage page loads an org's reviews in one query through it.
        constraints = [models.UniqueConstraint(fields=["organization", "kind", "cause"],
                                               name="triage_review_per_group")]

    def __str__(self):
        return f"{self.kind}:{self.cause} reviewed {self.reviewed_at:%Y-%m-%d %H:%M}"
