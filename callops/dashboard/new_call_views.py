"""The new-call form: the same validation and the same service the API uses."""

from datetime import datetime

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from callops.accounts.decorators import org_required
from callops.accounts.models import Role
from callops.accounts.tenancy import scoped
from callops.calls import services
from callops.calls.models import Agent, EventSource
from callops.calls.validation import VOICEMAIL_ACTIONS, ValidationFailed, validate_call_input
from callops.rules.gate import CallRefused

from . import form_tokens
from .tz import user_tz

# Scalar types the returns builder offers; "enum" takes a comma-separated list of allowed values.
RETURN_TYPES = ["string", "boolean", "number", "integer", "date", "datetime", "email", "phone", "enum"]


def _rows(post, key_name, value_name):
    keys, values = post.getlist(key_name), post.getlist(value_name)
    return [(k.strip(), v) for k, v in zip(keys, values, strict=False) if k.strip() or v.strip()]


def _parse_form(request, tz) -> tuple[dict, dict, dict]:
    """(data for validate_call_input, form-level errors, values to re-render the form with)."""
    post = request.POST
    errors: dict[str, str] = {}
    context_rows = _rows(post, "context_key", "context_value")
    # Each returns row posts a name, a type and (for enums) values, so the three lists line up.
    names, kinds = post.getlist("returns_name"), post.getlist("returns_type")
    enum_values = post.getlist("returns_values") + [""] * len(names)
    returns_rows = [(n.strip(), k, enum_values[i]) for i, (n, k) in enumerate(zip(names, kinds, strict=False))
                    if n.strip()]
    context = {}
    for key, value in context_rows:
        if not key:
            errors["context"] = "every context value needs a key"
        elif key in context:
            errors["context"] = f"the key {key!r} appears twice"
        context[key] = value

    returns: dict = {}
    for name, kind, values in returns_rows:
        if not name:
            errors["returns"] = "every returned field needs a name"
            continue
        if name in returns:
            errors["returns"] = f"the field {name!r} appears twice"
        if kind == "enum":
            choices = [v.strip() for v in values.split(",") if v.strip()]
            if not choices:
                errors["returns"] = f"list the allowed values of {name!r}, separated by commas"
            returns[name] = choices
        else:
            returns[name] = kind

    scheduled = post.get("scheduled_at", "").strip()
    scheduled_iso = ""
    if scheduled:
        try:
            local = datetime.fromisoformat(scheduled)
        except ValueError:
            errors["scheduled_at"] = f"{scheduled!r} is not a date and time"
        else:
            if timezone.is_naive(local):
                local = local.replace(tzinfo=tz)
            scheduled_iso = local.isoformat()

    data = {
        "agent_id": post.get("agent_id", ""),
        "to": post.get("to", "").strip(),
        "instructions": post.get("instructions", ""),
        "context": context,
        "returns": returns,
        "webhook_url": post.get("webhook_url", "").strip(),
        "scheduled_at": scheduled_iso,
        "language": post.get("language", "").strip(),
        "voicemail_action": post.get("voicemail_action", ""),
    }
    values = {**{k: post.get(k, "") for k in ("agent_id", "to", "instructions", "webhook_url", "scheduled_at",
                                              "language", "voicemail_action")},
              "context_rows": context_rows, "returns_rows": returns_rows}
    return data, errors, values


@org_required(Role.MEMBER)
def new_call(request):
    tz = user_tz(request)
    agents = list(scoped(Agent, request.org).filter(is_active=True).select_related("provider_account")
                  .order_by("name"))
    errors: dict[str, str] = {}
    # The organization's default agent is preselected, as the API uses it when none is named.
    default = next((str(a.public_id) for a in agents if a.is_default), "")
    values = {"agent_id": request.GET.get("agent", "") or default, "context_rows": [], "returns_rows": []}
    token = form_tokens.new_token()
    if request.method == "POST":
        token = request.POST.get(form_tokens.FIELD, "")
        data, errors, values = _parse_form(request, tz)
        if not form_tokens.well_formed(token):
            errors["form"] = "this form is out of date; reload the page and submit it again"
        try:
            clean = validate_call_input(request.org, data)
        except ValidationFailed as exc:
            errors = {**exc.fields, **errors}
        else:
            outside_hours = request.POST.get("outside_hours", "schedule")
            if outside_hours not in services.OUTSIDE_HOURS_CHOICES:
                errors["outside_hours"] = "choose whether to schedule or refuse a call outside the calling hours"
            else:
                try:
                    # Refused before the one-time token is spent, so the form shows why and can be fixed.
                    services.screen_call(request.org, clean.to_number, scheduled_at=clean.scheduled_at,
                                         outside_hours=outside_hours, actor=request.user)
                except CallRefused as exc:
                    errors["to"] = exc.message
            if not errors:
                try:
                    return _place_once(request, token, clean, outside_hours)
                except CallRefused as exc:
                    # Another call to the number took the last place under the cap meanwhile.
                    errors["to"] = exc.message
            values["outside_hours"] = outside_hours
    return render(request, "dashboard/calls/new.html", {
        "nav": "calls",
        "agents": agents,
        "errors": errors,
        "v": values,
        "return_types": RETURN_TYPES,
        "voicemail_actions": VOICEMAIL_ACTIONS,
        "tz_name": getattr(tz, "key", "UTC"),
        "form_token": token if form_tokens.well_formed(token) else form_tokens.new_token(),
    }, status=400 if errors else 200)


def _place_once(request, token, clean, outside_hours="schedule"):
    """Place the call unless this form (its one-time token) already placed one.

    A double click, a resubmitted POST or the back button then submit again all carry the same
    token: the first request places the call, every later one lands on that call instead.
    """
    claim = form_tokens.claim(request.org, token, request.POST)
    if claim.call_public_id:
        messages.info(request, claim.message)
        return redirect("dashboard:call_detail", public_id=claim.call_public_id)
    if not claim.won:
        messages.error(request, claim.message)
        return redirect("dashboard:calls")
    try:
        call = services.submit_call(request.org, clean, source=EventSource.USER, outside_hours=outside_hours,
                                    actor=request.user)
    except CallRefused:
        form_tokens.release(claim)  # nothing was created: the same form may be sent again
        raise
    except Exception:
        form_tokens.fail(claim)  # the call row may exist and the provider may have been asked
        raise
    form_tokens.complete(claim, call)
    return redirect("dashboard:call_detail", public_id=call.public_id)
