"""Template helpers shared by every dashboard page: status badges, times, links and assets, the top bar."""

import json
from datetime import UTC
from functools import lru_cache
from html import escape as _escape

from django import template
from django.conf import STATICFILES_STORAGE_ALIAS, settings
from django.core.files.storage import storages
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from callops.accounts.models import Role

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
ROLE_LABELS = dict(Role.choices)


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
    iso = utc.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff][+00:00]; the text is cut from it
    full = f"{iso[:10]} {iso[11:19]} UTC"
    fmt = fmt if fmt in ("datetime", "time", "date") else "datetime"
    text = iso[:10] if fmt == "date" else full
    return mark_safe(f'<time datetime="{iso}" data-format="{fmt}" title="{full}">{text}</time>')


def _urlconf():
    # The request's urlconf when a middleware set one, else the project's (so a test that
    # overrides ROOT_URLCONF gets its own memoised entries).
    return get_urlconf() or settings.ROOT_URLCONF


@register.simple_tag
def route(name, *args):
    """`{% url %}`, memoised: the top bar and side navigation name the same handful of routes on
    every page, and a call's page (polled every 2 s while live) names the same call URLs on every
    render; reverse() costs 20-30 us each. Arguments are keyed by their text, which is all a
    path converter puts in a URL."""
    return route_url(name, *args)


def route_url(name, *args) -> str:
    """reverse(name, args=args) through the same memo, for tags that build markup in Python."""
    return _route(_urlconf(), get_script_prefix(), name, tuple(str(a) for a in args))


@lru_cache(maxsize=4096)
def _route(urlconf, prefix, name, args):
    return reverse(name, args=args, urlconf=urlconf)


@register.simple_tag
def asset(path):
    """`{% static %}`, memoised per storage: every page links the same stylesheet and scripts, and
    resolving a hashed name (manifest lookup, URL joining) costs about 25 us each. The storage
    object and DEBUG (which switches hashing off) are part of the key, so a test that swaps
    either gets fresh URLs."""
    return _asset(storages[STATICFILES_STORAGE_ALIAS], settings.DEBUG, path)


@lru_cache(maxsize=64)
def _asset(storage, debug, path):
    return storage.url(path)


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


@register.simple_tag(takes_context=True)
def topbar(context):
    """The top bar: organization switcher, role, notification bell, new-call button, user menu.

    Built in Python like the side navigation: every dashboard page renders it, and as template
    nodes (a loop, conditionals, lookups through the lazy user and counter, two CSRF fields) it
    cost a third of what a call's whole detail content did. The markup is what the template
    produced; every value is escaped.
    """
    request = context["request"]
    membership = context.get("current_membership")
    org = context.get("current_org")
    token = context.get("csrf_token")
    token = str(token) if token else ""
    csrf = (f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(token)}">'
            if token and token != "NOTPROVIDED" else "")
    options = "".join(
        f'\n      <option value="{esc(m.organization.public_id)}"'
        f'{" selected" if org is not None and m.organization_id == org.id else ""}>{esc(m.organization.name)}</option>'
        for m in context.get("all_memberships") or ())
    role = ROLE_LABELS.get(membership.role, membership.role) if membership else ""
    bell = ""
    notices_url = url_if_exists("dashboard:notifications")
    if notices_url:
        count = context.get("notification_count")  # lazy: counted here, on first use
        count = str(count) if count else ""
        badge = f'<span class="bell-count">{esc(count)}</span>' if count else ""
        bell = (f'\n  <a class="bell{" bell-unread" if count else ""}" href="{esc(notices_url)}" data-testid="bell" '
                f'title="Webhook notifications"><span class="bell-icon" aria-hidden="true"></span>'
                f'<span class="visually-hidden">Notifications</span>{badge}</a>')
    new_call = (f'\n  <a class="btn btn-primary btn-small" href="{esc(route_url("dashboard:call_new"))}">New call</a>'
                if membership is not None and membership.allows(Role.MEMBER) else "")
    username = request.user.get_username()
    return mark_safe(f"""<header class="topbar">
  <a class="brand" href="{esc(route_url("dashboard:overview"))}"><span class="brand-mark" aria-hidden="true"></span>callops</a>
  <form class="org-switch" method="post" action="{esc(route_url("switch_org"))}">
    {csrf}
    <input type="hidden" name="next" value="{esc(request.path)}">
    <label for="org-switch" class="visually-hidden">Organization</label>
    <select id="org-switch" name="org" data-autosubmit>{options}
    </select>
    <button type="submit" class="btn btn-small js-hide">Switch</button>
  </form>
  <span class="role-chip" title="Your role in {esc(org.name if org is not None else "")}">{esc(role)}</span>
  <div class="topbar-spacer"></div>{bell}{new_call}
  <details class="user-menu">
    <summary aria-label="Account menu"><span class="avatar" aria-hidden="true">{esc(username[:1].upper())}</span><span class="user-name">{esc(username)}</span></summary>
    <div class="menu-panel">
      <p class="menu-meta">Signed in as<br><strong>{esc(username)}</strong></p>
      <form method="post" action="{esc(route_url("logout"))}">{csrf}<button type="submit" class="menu-item">Sign out</button></form>
    </div>
  </details>
</header>""")


def esc(value) -> str:
    """Any value as escaped text: html.escape, which Django's escape() and `{{ }}` run underneath,
    for markup built in Python."""
    return _escape(str(value))


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
