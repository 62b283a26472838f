"""Settings → Webhook endpoints: create and edit, reveal-once and rotate the secret, send a test event,
and the organization's signing secret for per-call and agent webhook URLs.

All writes go through `callops.webhooks.services`. Create and rotate redirect to the endpoint's page
(post/redirect/get: a reload neither creates nor rotates again), which shows the new signing secret
once, from the session (`secret_once`); the organization secret likewise, on the page an admin's
reveal (audited) or rotate redirects to. Pages showing a secret are never cached. Custom header values are write-only
like credentials, because they usually carry the receiver's auth token.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from callops.accounts.decorators import acts_on, org_required
from callops.accounts.models import Role
from callops.accounts.tenancy import get_for_org, scoped
from callops.webhooks import events as webhook_events
from callops.webhooks import services as webhooks
from callops.webhooks.models import WebhookDelivery, WebhookEndpoint

from . import secret_once
from .polling import stop_polling_if


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def _form_data(post, endpoint=None) -> dict:
    events = post.getlist("events") or ["*"]
    if "*" in events:
        events = ["*"]
    headers = {}
    old = (endpoint.headers or {}) if endpoint else {}
    for name, value in zip(post.getlist("header_name"), post.getlist("header_value"), strict=False):
        name = name.strip()
        if not name:
            continue
        # A blank value on an existing header keeps the stored value (values are never shown back).
        headers[name] = value if value else old.get(name, "")
    data = {"url": post.get("url", ""), "description": post.get("description", ""), "enabled_events": events,
            "headers": headers}
    try:
        data["max_in_flight"] = int(post.get("max_in_flight") or 4)
    except ValueError:
        data["max_in_flight"] = -1  # the service refuses it with its own message
    return data


def _form(request, *, endpoint=None, error=None, values=None, secret="", status=200, test=None):
    values = values or {}
    return render(request, "dashboard/settings/endpoint_form.html", {
        "nav": "endpoints", "endpoint": endpoint, "error": error, "values": values, "secret": secret,
        "event_types": webhook_events.EVENT_TYPES,
        "header_names": list((values.get("headers") or {}).keys()),
        "can_manage": request.membership.allows(Role.ADMIN), "test": test,
    }, status=status)


@org_required()
@acts_on(post_role=Role.ADMIN)
def endpoints(request):
    """The endpoint list, plus the per-call signing secret: POST `action` reveals or rotates it
    (admins) and redirects here, and the one GET that follows is the only place it appears."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "reveal_org_secret":
            secret_once.stash(request, "org_secret:revealed", webhooks.reveal_org_secret(request.org,
                                                                                        actor=request.user))
        elif action == "rotate_org_secret":
            secret_once.stash(request, "org_secret:rotated", webhooks.rotate_org_secret(request.org,
                                                                                       actor=request.user))
        else:
            messages.error(request, "Unknown action.")
        # Post/redirect/get: a reload shows the list again, and neither reveals (audited) nor rotates twice.
        return redirect(reverse("dashboard:endpoints") + "#signing-secret")
    rotated_secret = secret_once.take(request, "org_secret:rotated")
    secret = rotated_secret or secret_once.take(request, "org_secret:revealed")
    rotated = bool(rotated_secret)
    rows = scoped(WebhookEndpoint, request.org).order_by("created_at", "id")
    response = render(request, "dashboard/settings/endpoints.html", {
        "nav": "endpoints", "endpoints": rows, "can_manage": request.membership.allows(Role.ADMIN),
        "org_secret": webhooks.org_secret_row(request.org), "org_secret_value": secret, "org_secret_rotated": rotated,
    })
    return _no_store(response) if secret else response


@org_required(Role.ADMIN)
@acts_on()
def endpoint_new(request):
    if request.method == "POST":
        data = _form_data(request.POST)
        try:
            endpoint, secret = webhooks.create_endpoint(request.org, data, actor=request.user)
        except webhooks.WebhookInputError as exc:
            values = {**data, "headers": {k: "" for k in data["headers"]}}
            return _form(request, error=exc, values=values, status=400)
        secret_once.stash(request, f"endpoint:{endpoint.public_id}", secret)
        return redirect("dashboard:endpoint_edit", endpoint_id=endpoint.public_id)
    return _form(request, values={"enabled_events": ["*"], "max_in_flight": 4})


def _values(endpoint):
    return {"url": endpoint.url, "description": endpoint.description, "enabled_events": endpoint.enabled_events,
            "headers": endpoint.headers or {}, "max_in_flight": endpoint.max_in_flight}


@org_required()
@acts_on(WebhookEndpoint, "endpoint_id", label="endpoint", post_role=Role.ADMIN)
def endpoint_edit(request, endpoint):
    test = None
    if request.method == "POST":
        data = _form_data(request.POST, endpoint)
        try:
            webhooks.update_endpoint(endpoint, data, actor=request.user)
        except webhooks.WebhookInputError as exc:
            return _form(request, endpoint=endpoint, error=exc, values={**data, "headers": data["headers"]},
                         status=400)
        messages.success(request, "Endpoint saved.")
        return redirect("dashboard:endpoint_edit", endpoint_id=endpoint.public_id)
    if request.GET.get("test"):
        test = get_for_org(WebhookDelivery.objects.filter(endpoint=endpoint), request.org, request.GET["test"],
                           label="test delivery")
    secret = secret_once.take(request, f"endpoint:{endpoint.public_id}")
    response = _form(request, endpoint=endpoint, values=_values(endpoint), test=test, secret=secret)
    return _no_store(response) if secret else response


@require_POST
@org_required()
@acts_on(WebhookEndpoint, "endpoint_id", label="endpoint", role=Role.ADMIN)
def endpoint_rotate(request, endpoint):
    secret = webhooks.rotate_secret(endpoint, actor=request.user)
    secret_once.stash(request, f"endpoint:{endpoint.public_id}", secret)
    return redirect("dashboard:endpoint_edit", endpoint_id=endpoint.public_id)


@require_POST
@org_required()
@acts_on(WebhookEndpoint, "endpoint_id", label="endpoint", role=Role.ADMIN)
def endpoint_test(request, endpoint):
    delivery = webhooks.send_test(endpoint, actor=request.user)
    return redirect(reverse("dashboard:endpoint_edit", args=[endpoint.public_id]) + f"?test={delivery.public_id}#test")


@org_required()
@acts_on(WebhookEndpoint, "endpoint_id", label="endpoint")
def endpoint_test_result(request, endpoint, delivery_id):
    """The test delivery's attempts, polled until one is recorded."""
    test = get_for_org(WebhookDelivery.objects.filter(endpoint=endpoint), request.org, delivery_id,
                       label="test delivery")
    response = render(request, "dashboard/settings/endpoint_form.html#test_result", {"endpoint": endpoint,
                                                                                       "test": test})
    return stop_polling_if(test.attempts.exists(), response)


@require_POST
@org_required()
@acts_on(WebhookEndpoint, "endpoint_id", label="endpoint", role=Role.ADMIN)
def endpoint_delete(request, endpoint):
    webhooks.delete_endpoint(endpoint, actor=request.user)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("dashboard:endpoints")
