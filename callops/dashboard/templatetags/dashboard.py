"""Template filters shared by every dashboard page: status badges, times, durations, JSON values."""

import json
from datetime import UTC
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

# One colour per canonical status, everywhere (list, detail, overview, timeline). The CSS holds
# the palette; this maps each status word to its tone so a new status cannot silently go grey.
TONES = {
    # call lifecycle
    "queued": "neutral",
    "initiated": "info",
    "ringing": "info",
    "in_progress": "live",
    "completed": "success",
    "no_answer": "warning",
    "busy": "warning",
    "canceled": "muted",
    "skipped": "muted",
    "failed": "danger",
    # batch lifecycle: seven statuses, seven tones, each meaning what it means for a call
    # (running pulses like a live call, stopped is muted like a canceled one).
    "created": "neutral",
    "scheduled": "pending",
    "running": "live",
    "paused": "warning",
    "stopped": "muted",
    # "completed" and "failed" are shared with calls above: success and danger.
    # result_status / webhook_status
    "pending": "pending",
    "delivered": "success",
    "succeeded": "success",
    "success": "success",
    "exhausted": "danger",
    "retrying": "warning",
}

LABELS = {"in_progress": "In progress", "no_answer": "No answer"}


@register.filter
def status_badge(status, prefix=""):
    """`{{ call.status|status_badge }}` → a coloured pill; empty status renders an em dash."""
    if not status:
        return format_html('<span class="badge badge-empty">{}</span>', "—")
    word, prefix = str(status), str(prefix or "")
    # Unknown words are escaped like any other.
    label = LABELS.get(word, word.replace("_", " ").capitalize())
    if prefix:
        label = f"{prefix} {label.lower()}"
    return format_html('<span class="badge badge-{} status-{}">{}</span>', TONES.get(word, "neutral"), word, label)


@register.filter
def localtime_tag(value, fmt="datetime"):
    """A `<time>` element: UTC text server-side, rewritten to the reader's zone by app.js.

    The title keeps the UTC time so hovering always shows the unambiguous value.
    """
    if not value:
        return format_html('<span class="muted">{}</span>', "—")
    utc = value.astimezone(UTC) if timezone.is_aware(value) else value
    iso = utc.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff][+00:00]; the text is cut from it
    full = f"{iso[:10]} {iso[11:19]} UTC"
    fmt = fmt if fmt in ("datetime", "time", "date") else "datetime"
    text = iso[:10] if fmt == "date" else full
    return format_html('<time datetime="{}" data-format="{}" title="{}">{}</time>', iso, fmt, full, text)


@register.filter
def duration(seconds):
    if seconds is None or seconds == "":
        return "—"
    seconds = int(seconds)
    minutes, sec = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {sec:02d}s"
    if minutes:
        return f"{minutes}m {sec:02d}s"
    return f"{sec}s"


@register.filter
def pretty_json(value):
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def json_value(value):
    """A result value as JSON spells it (true, 3.5, "text"), lists and objects inline."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@register.filter
def percent(value):
    if value is None:
        return "—"
    return f"{value * 100:.1f}%"


@register.filter
def signed_points(value):
    """A change between two rates, in percentage points with its sign."""
    if value is None:
        return ""
    pts = value * 100
    return f"{pts:+.1f} pts"


@register.filter
def trend_class(value):
    if value is None or abs(value) < 0.0005:
        return "trend-flat"
    return "trend-up" if value > 0 else "trend-down"


@register.filter
def milli_cents(value):
    """An amount in milli-cents (1/1000 of a cent) in whole currency units, to 1/100 of a cent."""
    if value is None or value == "":
        return "—"
    return str((Decimal(int(value)) / Decimal(100_000)).quantize(Decimal("0.0001")))
