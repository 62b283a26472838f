"""Org-scoped access. Anything outside the caller's organization is a 404, never a 403."""

import uuid

from django.http import Http404


def parse_public_id(value) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def scoped(model_or_qs, org):
    """The queryset of `model_or_qs` rows owned by `org` (models declare how via `org_lookup`)."""
    qs = model_or_qs.objects.all() if hasattr(model_or_qs, "objects") else model_or_qs
    lookup = getattr(qs.model, "org_lookup", "organization")
    return qs.filter(**{lookup: org})


def get_for_org(model_or_qs, org, public_id, *, label: str | None = None):
    """The row with this public id inside `org`, or Http404 naming what was not found."""
    qs = scoped(model_or_qs, org)
    pid = parse_public_id(public_id)
    obj = qs.filter(public_id=pid).first() if pid else None
    if obj is None:
        raise Http404(f"{label or qs.model._meta.model_name} {public_id} not found")
    return obj
