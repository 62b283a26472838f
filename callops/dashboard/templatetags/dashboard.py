"""Template helpers shared by every dashboard page: status badges, times, optional links."""

import json
from datetime import UTC
from functools import lru_cache

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

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
        return mark_safe('<span class="badge badge-empty">—</span>')
    return _badge(str(status), str(prefix or ""))


@lru_cache(maxsize=512)
def _badge(word: str, prefix: str):
    # Memoised: a page shows the same few status words many times (timeline, rows, outcomes),
    # and the set of words is small. Unknown words are escaped like any other.
    label = LABELS.get(word, word.replace("_", " ").capitalize())
    if prefix:
        label = f"{prefix} {label.lower()}"
    return format_html('<span class="badge badge-{} status-{}">{}</span>', TONES.get(word, "neutral"), word, label)


@register.filter
def localtime_tag(value, fmt="datetime"):
    """A `<time>` element: UTC text server-side, rewritten to the reader's zone by app.js.

    The title keeps the UTC time so hovering always shows the unambiguous value. Built directly
    rather than through format_html: every part is generated here from a datetime (digits,
    dashes, colons), and a detail page renders a few dozen of these.
    """
    if not value:
        return mark_safe('<span class="muted">—</span>')
    utc = value.astimezone(UTC) if timezone.is_aware(value) else value
    full = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    fmt = fmt if fmt in ("datetime", "time", "date") else "datetime"
    text = full[:10] if fmt == "date" else full
    return mark_safe(f'<time datetime="{utc.isoformat()}" data-format="{fmt}" title="{full}">{text}</time>')


def _urlconf():
    # The request's urlconf when a middleware set one, else the project's (so a test that
    # overrides ROOT_URLCONF gets its own memoised entries).
    return get_urlconf() or settings.ROOT_URLCONF


@register.simple_tag
def route(name):
    """`{% url name %}` for a route without arguments, memoised like url_if_exists: the top bar
    and side navigation name the same handful on every page, and reverse() costs ~30 us each."""
    return _route(_urlconf(), get_script_prefix(), name)


@lru_cache(maxsize=256)
def _route(urlconf, prefix, name):
    return reverse(name, urlconf=urlconf)


@register.simple_tag
def sidenav(nav):
    """The side navigation with section `nav` marked current. It depends on nothing but the
    routes and the section, so it is rendered once per section per process rather than walked
    node by node (some sixty of them) on every page."""
    return _sidenav(_urlconf(), get_script_prefix(), str(nav or ""))


@lru_cache(maxsize=64)
def _sidenav(urlconf, prefix, nav):
    from django.template.loader import render_to_string

    return mark_safe(render_to_string("dashboard/_sidenav.html", {"nav": nav}))


@register.simple_tag
def url_if_exists(name, *args):
    """The URL for `name`, or "" when no such route exists yet (pages other features add)."""
    return _url_if_exists(_urlconf(), get_script_prefix(), name, tuple(str(a) for a in args))


@lru_cache(maxsize=256)
def _url_if_exists(urlconf, prefix, name, args):
    # Memoised because a failed reverse() costs milliseconds (it builds a message listing every
    # pattern tried) and the side navigation asks for several names on every page; routes only
    # change with a new process (or a different urlconf or script prefix, which are part of the key).
    try:
        return reverse(name, args=args, urlconf=urlconf)
    except NoReverseMatch:
        return ""


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
