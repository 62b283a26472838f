"""The repeated rows of the call detail page (timeline events, payload panels, transcript turns).

Built in Python rather than as template loop bodies: the detail page and its 2-second live poll
render every row on every request, and the template engine spent about 0.1 ms per event on this
markup (variable lookups, filters, choice labels rebuilt on each get_FOO_display call), which was
the larger part of the page's own time. The markup is what the templates produced before; every
value is escaped with html.escape, which is what Django's escape() and `{{ }}` run underneath.
"""

from django import template
from django.utils.safestring import mark_safe

from callops.calls.models import CallEvent, EventSource

from .dashboard import esc, localtime_tag, route_url, status_badge

register = template.Library()

SOURCE_LABELS = dict(EventSource.choices)
KIND_LABELS = dict(CallEvent.Kind.choices)


def timeline_item(e):
    """One `<li>` of the status timeline."""
    if e.status:
        line = [status_badge(e.status)]
    else:
        line = [f'<span class="badge badge-kind">{esc(KIND_LABELS.get(e.kind, e.kind))}</span>']
    if e.from_status and e.status and not e.ignored:
        line.append(f'<span class="tl-from">from {esc(e.from_status)}</span>')
    line.append(f'<span class="source source-{esc(e.source)}">{esc(SOURCE_LABELS.get(e.source, e.source))}</span>')
    if e.ignored:
        line.append('<span class="badge badge-flag">ignored</span>')
    body = [f'<div class="tl-line">{"\n".join(line)}</div>']
    if e.raw_status or e.reason:
        raw = f"<code>{esc(e.raw_status)}</code>" if e.raw_status else ""
        reason = f" <span>{esc(e.reason)}</span>" if e.reason else ""
        body.append(f'<p class="tl-raw">{raw}{reason}</p>')
    if e.note:
        body.append(f'<p class="tl-note">{esc(e.note)}</p>')
    if getattr(e, "has_payload", False):
        body.append(f'<a class="tl-payload" href="#payload-{int(e.id)}">payload</a>')
    ignored = " tl-ignored" if e.ignored else ""
    return mark_safe(f'<li class="tl-item{ignored} tl-{esc(e.kind)}"><div class="tl-time">'
                     f'{localtime_tag(e.created_at, "time")}</div><div class="tl-body">{"\n".join(body)}</div></li>')


@register.filter
def timeline_items(events):
    """Every `<li>` of the status timeline; one call rather than a template loop, whose per-row
    bookkeeping (context push, forloop) cost as much as the row itself."""
    return mark_safe("\n".join(timeline_item(e) for e in events))


@register.simple_tag
def payload_panels(call, events, every):
    """The panel of each event in `events`, which all carry a payload (see payload_panel)."""
    return mark_safe("\n".join(payload_panel(call, e, every) for e in events))


@register.filter
def transcript_turns(turns):
    """Every `<li>` of the transcript (see transcript_turn)."""
    return mark_safe("\n".join(transcript_turn(turn) for turn in turns))


def payload_panel(call, e, every):
    """The collapsed panel of one event's raw provider payload; its body is fetched when opened
    (provider payloads can be large and a call can have dozens). `every` is the URL of all of the
    call's payloads as JSON."""
    raw = f"· <code>{esc(e.raw_status)}</code>" if e.raw_status else ""
    url = route_url("dashboard:call_payload", call.public_id, e.id)
    return mark_safe(
        f'<details class="payload" id="payload-{int(e.id)}" hx-get="{esc(url)}" hx-trigger="toggle once" '
        f'hx-target="find .payload-body"><summary>{localtime_tag(e.created_at, "time")} · '
        f"{esc(SOURCE_LABELS.get(e.source, e.source))} {raw}</summary>"
        f'<div class="payload-body"><p class="muted">Loading… (or <a href="{esc(every)}">view every payload as '
        f"JSON</a>)</p></div></details>")


def transcript_turn(turn):
    """One `<li>` of the transcript; a turn without a role is the agent's."""
    role = (turn.get("role") if isinstance(turn, dict) else None) or "agent"
    text = turn.get("text", "") if isinstance(turn, dict) else ""
    role = str(role)
    return mark_safe(f'<li class="turn turn-{esc(role)}"><span class="turn-role">{esc(role[:1].upper() + role[1:])}'
                     f"</span><p>{esc(text)}</p></li>")
