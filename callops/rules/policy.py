"""An organization's calling policy: read it, validate a change, apply it with an audit entry.

The API (`/v1/calling_policy`) and the dashboard (Settings → Calling rules) both go through
`clean_changes` and `update`, so they accept and refuse the same values.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from callops.accounts.models import Organization
from callops.accounts.services import Actor, audit

from .models import CallingPolicy

CAP_FIELDS = ("max_calls_per_day", "max_calls_per_week", "max_answered_per_week")
FIELDS = (*CAP_FIELDS, "hours_start", "hours_end", "time_zone", "opt_out_detection")
MAX_CAP = 1000
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class PolicyError(ValueError):
    """Bad policy values; `fields` maps each bad field to what is wrong with it."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("invalid calling policy: " + "; ".join(f"{k} {v}" for k, v in fields.items()))
        self.fields = fields


def get(org: Organization) -> CallingPolicy | None:
    """The organization's policy row; None means every rule at its default (no caps, no hours)."""
    return CallingPolicy.objects.filter(organization=org).first()


def current(org: Organization) -> CallingPolicy:
    """The policy row, or an unsaved one holding the defaults (for display)."""
    return get(org) or CallingPolicy(organization=org)


def as_dict(policy: CallingPolicy) -> dict[str, Any]:
    return {
        "max_calls_per_day": policy.max_calls_per_day,
        "max_calls_per_week": policy.max_calls_per_week,
        "max_answered_per_week": policy.max_answered_per_week,
        "hours_start": f"{policy.hours_start:%H:%M}" if policy.hours_start else None,
        "hours_end": f"{policy.hours_end:%H:%M}" if policy.hours_end else None,
        "time_zone": policy.time_zone,
        "opt_out_detection": policy.opt_out_detection,
    }


def _cap(value: Any) -> int | None | str:
    """The cap, None for no cap, or the error in words."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "must be a whole number or null"
    try:
        n = int(value) if isinstance(value, int) else int(str(value).strip())
    except (TypeError, ValueError):
        return "must be a whole number or null"
    if not 1 <= n <= MAX_CAP:
        return f"must be between 1 and {MAX_CAP}, or null for no cap"
    return n


def _time(value: Any) -> time | None | str:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _HHMM.match(value.strip()):
        return "must be a time of day as HH:MM (00:00-23:59), or null"
    h, m = value.strip().split(":")
    return time(int(h), int(m))


def clean_changes(data: Any, base: CallingPolicy) -> dict[str, Any]:
    """Validate a partial change (only the keys given change); PolicyError lists every problem."""
    if not isinstance(data, dict):
        raise PolicyError({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        errors[unknown[0]] = f"is not a calling policy field (fields: {', '.join(FIELDS)})"
    changes: dict[str, Any] = {}
    for key in CAP_FIELDS:
        if key in data:
            v = _cap(data[key])
            if isinstance(v, str):
                errors[key] = v
            else:
                changes[key] = v
    for key in ("hours_start", "hours_end"):
        if key in data:
            t = _time(data[key])
            if isinstance(t, str):
                errors[key] = t
            else:
                changes[key] = t
    if "time_zone" in data:
        name = str(data["time_zone"] or "").strip() or "UTC"
        try:
            ZoneInfo(name)
            changes["time_zone"] = name
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name no file system accepts
            errors["time_zone"] = f"{name!r} is not an IANA time zone such as America/New_York"
    if "opt_out_detection" in data:
        if not isinstance(data["opt_out_detection"], bool):
            errors["opt_out_detection"] = "must be true or false"
        else:
            changes["opt_out_detection"] = data["opt_out_detection"]
    if not any(k in errors for k in ("hours_start", "hours_end")):
        start = changes.get("hours_start", base.hours_start)
        end = changes.get("hours_end", base.hours_end)
        if (start is None) != (end is None):
            errors["hours"] = "give both the start and the end of the calling hours, or neither"
        elif start is not None and end is not None and start >= end:
            errors["hours"] = "the calling hours must end after they start, on the same day"
    if errors:
        raise PolicyError(errors)
    return changes


def update(org: Organization, changes: dict[str, Any], *, actor: Actor = None) -> CallingPolicy:
    """Apply validated changes; every changed value is audited with its before and after."""
    policy, _ = CallingPolicy.objects.get_or_create(organization=org)
    before = as_dict(policy)
    for key, value in changes.items():
        setattr(policy, key, value)
    after = as_dict(policy)
    changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
    if changed:
        policy.updated_at = timezone.now()
        policy.save()
        audit(org, "calling_policy.changed", actor=actor, detail={"changes": changed})
    return policy


def batch_window_problem(org: Organization, start_hour: int | None, end_hour: int | None) -> str:
    """Why a batch's calling window (whole hours) does not lie within the organization's hours,
    or "" when it does (or the organization has no hours)."""
    policy = get(org)
    if policy is None or policy.hours_start is None or policy.hours_end is None:
        return ""
    org_window = f"{policy.hours_start:%H:%M}\u2013{policy.hours_end:%H:%M}"
    if start_hour is None or end_hour is None:
        return ""  # no window of its own: the organization's hours apply to every recipient
    start, end = start_hour * 60, end_hour * 60
    if start < policy.hours_start.hour * 60 + policy.hours_start.minute or \
            end > policy.hours_end.hour * 60 + policy.hours_end.minute:
        return (f"the calling window {start_hour:02d}:00\u2013{end_hour:02d}:00 must lie within the "
                f"organization's calling hours {org_window}")
    return ""
