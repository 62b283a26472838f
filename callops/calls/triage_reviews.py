"""Writes for triage reviews (see TriageReview): mark a failure group reviewed."""

from django.utils import timezone

from .triage_models import TriageReview


def mark_reviewed(org, kind: str, cause: str, *, actor=None, note: str = "") -> TriageReview:
    label = actor.get_username() if getattr(actor, "pk", None) else str(actor or "system")
    review, _ = TriageReview.objects.update_or_create(
        organization=org, kind=kind, cause=cause[:300],
        defaults={"reviewed_at": timezone.now(), "reviewed_by": actor if getattr(actor, "pk", None) else None,
                  "reviewed_by_label": label[:200], "note": note[:500]})
    return review
