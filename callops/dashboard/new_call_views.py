"""The new-call form: the same validation and the same service the API uses."""

from datetime import datetime

import phonenumbers
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from callops.accounts.decorators import org_required
from callops.accounts.models import Role
from callops.accounts.tenancy import scoped
from callops.calls import services
from callops.calls.models import Agent, EventSource
from callops.calls.validation import VOICEMAIL_ACTIONS, ValidationFailed, normalize_phone, validate_call_input
from callops.extraction.schema import SchemaError, validate_returns
from callops.providers import sandbox
from callops.rules.gate import CallRefused

from . import form_tokens
from .tz import user_tz

# Scalar types the returns builder offers; "enum" takes a comma-separated list of allowed values.
RETURN_TYPES = ["string", "boolean", "number", "integer", "date", "datetime", "email", "phone", "enum"]


def _rows(post, key_name, value_name):
    keys, values = post.getlist(key_name), post.getlist(value_name)
    return [(k.strip(), v) for k, v in zip(keys, values, strict=False) if k.strip() or v.strip()]


def _values_text(values) -> str:
    return ", ".join(str(v).strip() for v in values if str(v).strip())


def returns_rows(returns) -> list[tuple[str, str, str, str]]:
    """An agent's `returns` as the form's rows: (name, type, enum values, description).

    The builder shows a scalar, an enum, a `list[T]` of a scalar and a description; a field it
    cannot show in full (enum synonyms, a list of enums) is shown by its type, and the agent's own
    schema is used unchanged as long as the rows are left as they were (see _parse_form).
    """
    rows = []
    for name, spec in (returns or {}).items() if isinstance(returns, dict) else ():
        description = ""
        if isinstance(spec, dict) and "type" in spec:
            description = str(spec.get("description", ""))
            values = spec.get("values") or []
            kind = str(spec["type"])
            if kind == "list" and isinstance(spec.get("items"), (str, dict)):
                item = spec["items"] if isinstance(spec["items"], str) else spec["items"].get("type", "string")
                kind = f"list[{item}]"
            rows.append((name, kind, _values_text(values), description))
        elif isinstance(spec, dict) and "list" in spec:
            item = spec["list"]
            rows.append((name, f"list[{item}]" if isinstance(item, str) else "list[string]", "", ""))
        elif isinstance(spec, list):
            rows.append((name, "enum", _values_text(spec), ""))
        else:
            rows.append((name, str(spec), "", ""))
    return rows


def _returns_from_rows(rows, errors: dict, row_errors: dict) -> dict:
    """The schema the rows describe; every problem is reported, each on its own row."""
    returns: dict = {}
    problems = []
    for i, (name, kind, values, description) in enumerate(rows):
        if not name:
            row_errors[i] = "give this field a name"
        elif name in returns:
            row_errors[i] = f"the field {name!r} appears twice"
        else:
            spec: object
            if kind == "enum":
                choices = [v.strip() for v in values.split(",") if v.strip()]
                if not choices:
                    row_errors[i] = f"list the allowed values of {name!r}, separated by commas"
                    continue
                spec = {"type": "enum", "values": choices, "description": description} if description else choices
            else:
                spec = {"type": kind, "description": description} if description else kind
            try:
                returns.update(validate_returns({name: spec}))
            except SchemaError as exc:
                row_errors[i] = exc.message.removeprefix(f"returns.{name}: ").removeprefix("returns: ")
            else:
                continue
        # an invalid row still counts as a name (a second row of the same name is a duplicate)
        returns.setdefault(name, None)
    for i in sorted(row_errors):
        name = rows[i][0] or f"row {i + 1}"
        problems.append(f"{name}: {row_errors[i]}")
    if problems:
        errors["returns"] = "; ".join(problems)
    return {k: v for k, v in returns.items() if v is not None}


def _parse_form(request, tz, agents) -> tuple[dict, dict, dict]:
    """(data for validate_call_input, form-level errors, values to re-render the form with)."""
    post = request.POST
    errors: dict[str, str] = {}
    context_rows = _rows(post, "context_key", "context_value")
    # Each returns row posts a name, a type, enum values and a description, so the lists line up.
    names, kinds = post.getlist("returns_name"), post.getlist("returns_type")
    enum_values = post.getlist("returns_values") + [""] * len(names)
    descriptions = post.getlist("returns_description") + [""] * len(names)
    rows = [(n.strip(), k, enum_values[i], descriptions[i].strip())
            for i, (n, k) in enumerate(zip(names, kinds, strict=False))
            if n.strip() or enum_values[i].strip() or descriptions[i].strip()]
    context = {}
    for key, value in context_rows:
        if not key:
            errors["context"] = "every context value needs a key"
        elif key in context:
            errors["context"] = f"the key {key!r} appears twice"
        context[key] = value

    row_errors: dict[int, str] = {}
    agent = next((a for a in agents if str(a.public_id) == post.get("agent_id", "")), None)
    # (Compared in any order: PostgreSQL's jsonb does not keep the order the keys were written in.)
    unchanged = agent is not None and sorted((n, k, _values_text(v.split(",")), d) for n, k, v, d in rows) == \
        sorted(returns_rows(agent.returns))
    # Rows left as the agent defines them send nothing: the agent's own schema applies in full.
    returns = {} if unchanged else _returns_from_rows(rows, errors, row_errors)

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

    # A national number ("(202) 555-0100") is read in the chosen country, as batches do.
    to = post.get("to", "").strip()
    country = post.get("default_country", "").strip().upper()
    if country and country not in phonenumbers.SUPPORTED_REGIONS:
        errors["default_country"] = f"{country!r} is not a two-letter country code such as US or GB"
    elif country and to and not to.startswith("+"):
        try:
            to = normalize_phone(to, default_region=country)
        except ValueError as exc:
            errors["to"] = str(exc)

    data = {
        "agent_id": post.get("agent_id", ""),
        "to": to,
        "instructions": post.get("instructions", ""),
        "context": context,
        "returns": returns,
        "webhook_url": post.get("webhook_url", "").strip(),
        "scheduled_at": scheduled_iso,
        "language": post.get("language", "").strip(),
        "voicemail_action": post.get("voicemail_action", ""),
    }
    values = {**{k: post.get(k, "") for k in ("agent_id", "to", "instructions", "webhook_url", "scheduled_at",
                                              "language", "voicemail_action", "default_country")},
              "context_rows": context_rows,
              "returns_rows": [(*row, row_errors.get(i, "")) for i, row in enumerate(rows)]}
    return data, errors, values


def _agent_values(agent) -> dict:
    """The form's agent-specific fields as the agent defines them: its instructions and returns."""
    if agent is None:
        return {"instructions": "", "returns_rows": []}
    return {"instructions": agent.instructions or "",
            "returns_rows": [(*row, "") for row in returns_rows(agent.returns)]}


def _confirmation(call, tz) -> str:
    if call.scheduled_at:
        when = call.scheduled_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        return f"Call to {call.to_number} scheduled for {when} ({getattr(tz, 'key', 'UTC')})."
    return f"Call to {call.to_number} placed with {call.agent.name}. Its status updates below."


@org_required(Role.MEMBER)
def new_call(request):
    tz = user_tz(request)
    agents = list(scoped(Agent, request.org).filter(is_active=True).select_related("provider_account")
                  .order_by("name"))
    errors: dict[str, str] = {}
    # The organization's default agent is preselected, as the API uses it when none is named.
    # With no default the first agent is the one the select shows, so its fields are filled in.
    default = next((str(a.public_id) for a in agents if a.is_default), str(agents[0].public_id) if agents else "")
    chosen = request.GET.get("agent_id", "") or request.GET.get("agent", "") or default
    agent = next((a for a in agents if str(a.public_id) == chosen), None)
    values = {"agent_id": chosen, "context_rows": [], **_agent_values(agent)}
    token = form_tokens.new_token()
    if request.method == "POST":
        token = request.POST.get(form_tokens.FIELD, "")
        data, errors, values = _parse_form(request, tz, agents)
        agent = next((a for a in agents if str(a.public_id) == values["agent_id"]), None)
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
                    return _place_once(request, token, clean, tz, outside_hours)
                except CallRefused as exc:
                    # Another call to the number took the last place under the cap meanwhile.
                    errors["to"] = exc.message
            values["outside_hours"] = outside_hours
    context = {
        "nav": "calls",
        "agents": agents,
        "agent": agent,
        "errors": errors,
        "v": values,
        "return_types": RETURN_TYPES,
        "voicemail_actions": VOICEMAIL_ACTIONS,
        "tz_name": getattr(tz, "key", "UTC"),
        "form_token": token if form_tokens.well_formed(token) else form_tokens.new_token(),
        "test_numbers": [(number, sandbox.OUTCOMES[name].description) for number, name in
                         sandbox.TEST_NUMBERS.items()] if agent and agent.provider_account.kind == sandbox.KIND else [],
    }
    if request.method == "GET" and request.htmx:
        # Another agent chosen: its instructions, returns and (for the sandbox) test numbers.
        return render(request, "dashboard/calls/new.html#agent_fields", context)
    return render(request, "dashboard/calls/new.html", context, status=400 if errors else 200)


def _place_once(request, token, clean, tz, outside_hours="schedule"):
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
    messages.success(request, _confirmation(call, tz))
    return redirect("dashboard:call_detail", public_id=call.public_id)
