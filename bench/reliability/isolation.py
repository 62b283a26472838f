"""Isolation: every API operation (from the OpenAPI document, against gunicorn) and every dashboard
URL pattern (walked from the URLconf, through the full Django stack in-process) requested with
another organization's ids, and every write with an insufficient role.

Leaks counted: an outsider getting anything but a 404 (or 405 for a method the route lacks) or a
response naming the other organization's object; a read-only key, a viewer, or a member on an
admin-only settings action getting a success (2xx/3xx) instead of 403/404/405."""

from __future__ import annotations

import re
import time
import uuid

import httpx

from . import cluster as cl
from .common import Result

API_PARAM = {"call_id": "call", "agent_id": "agent", "endpoint_id": "endpoint", "delivery_id": "delivery",
             "recovery_id": "recovery", "batch_id": "batch"}
ADMIN_PREFIXES = ("settings/members/", "settings/keys/", "settings/providers/", "settings/endpoints/")


def make_objects(http: httpx.Client, tag: str, ctx) -> dict:
    """One object of every kind in org `tag`, created through the API where it has a route."""
    from callops.accounts.models import ApiKey, Membership
    from callops.providers.models import ProviderAccount
    from callops.webhooks.models import RecoveryJob, WebhookDelivery

    org = ctx.orgs[tag]
    agent = str(ctx.agents[tag].public_id)
    ids = {"agent": agent}
    r = http.post("/v1/webhook_endpoints", json={"url": f"https://hooks.{tag}.example.com/in"})
    assert r.status_code == 201, f"endpoint for isolation checks: {r.status_code} {r.text[:200]}"
    ids["endpoint"] = r.json()["id"]
    r = http.post("/v1/calls", json={"agent_id": agent, "to": "+12025550107"})
    assert r.status_code == 201, f"call for isolation checks: {r.status_code} {r.text[:200]}"
    ids["call"] = r.json()["id"]
    r = http.post("/v1/batches", json={"agent_id": agent, "recipients": ["+12025550102"], "hold": True})
    assert r.status_code in (200, 201), f"batch for isolation checks: {r.status_code} {r.text[:200]}"
    ids["batch"] = r.json()["id"]
    http.post(f"/v1/webhook_endpoints/{ids['endpoint']}/recover", json={"since": "2020-01-01T00:00:00Z"})
    for _ in range(50):
        d = WebhookDelivery.objects.filter(endpoint__organization=org).first()
        if d:
            break
        time.sleep(0.2)
    ids["delivery"] = str(d.public_id) if d else str(uuid.uuid4())
    job = RecoveryJob.objects.filter(organization=org).first() if hasattr(RecoveryJob, "organization") else None
    ids["recovery"] = str(job.public_id) if job else str(uuid.uuid4())
    ids["key"] = str(ApiKey.objects.filter(organization=org).first().public_id)
    ids["account"] = str(ProviderAccount.objects.filter(organization=org).first().public_id)
    ids["member"] = str(Membership.objects.filter(organization=org).order_by("-pk").first().public_id)
    ids["name"] = org.name
    # Objects that could not be made fell back to random UUIDs (still a probe, a weaker one): say so.
    ids["_missing"] = ",".join(k for k, ok in (("delivery", d is not None), ("recovery", job is not None)) if not ok)
    return ids


def fill_api(path: str, ids: dict) -> str:
    p = path if path.startswith("/v1") else "/v1" + path
    for name in re.findall(r"{(\w+)}", p):
        p = p.replace("{" + name + "}", ids.get(API_PARAM.get(name, ""), str(uuid.uuid4())))
    return p


def api_checks(url: str, ctx, ids_a: dict, ids_b: dict) -> tuple[dict, list[str]]:
    spec = httpx.get(url + "/v1/openapi.json", timeout=30).json()
    rw = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ctx.keys[('a', 'rw')]}"}, timeout=60)
    ro = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ctx.keys[('a', 'ro')]}"}, timeout=60)
    counts = {"API operations": 0, "outsider requests": 0, "outsider leaks": 0, "read-only writes tried": 0,
              "read-only writes accepted": 0, "list responses naming the other org": 0, "API 5xx": 0}
    leaks: list[str] = []
    b_values = {v for k, v in ids_b.items() if k not in ("name", "member", "_missing") and v}
    for path, ops in spec["paths"].items():
        params = re.findall(r"{(\w+)}", path)
        for method in ops:
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            counts["API operations"] += 1

            body = {} if method != "get" else None
            if params:
                counts["outsider requests"] += 1
                r = rw.request(method.upper(), fill_api(path, ids_b), json=body)
                counts["API 5xx"] += r.status_code >= 500
                # A 404 may echo the id that was asked for; only a success can disclose the object.
                if r.status_code not in (404, 405) or (r.status_code < 300 and any(v in r.text for v in b_values)):
                    counts["outsider leaks"] += 1
                    leaks.append(f"API {method.upper()} {path} with the other org's ids -> {r.status_code}")
            elif method == "get":
                r = rw.get(fill_api(path, ids_a))
                counts["API 5xx"] += r.status_code >= 500
                if any(v in r.text for v in b_values):
                    counts["list responses naming the other org"] += 1
                    leaks.append(f"API GET {path} lists the other org's objects")
            if method != "get":
                counts["read-only writes tried"] += 1
                r = ro.request(method.upper(), fill_api(path, ids_a), json={})
                counts["API 5xx"] += r.status_code >= 500
                if r.status_code < 400:
                    counts["read-only writes accepted"] += 1
                    leaks.append(f"API {method.upper()} {path} with a read-only key -> {r.status_code}")
    return counts, leaks


def dashboard_patterns():
    from django.urls import get_resolver
    from django.urls.resolvers import URLPattern, URLResolver

    out = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append(prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    skip = ("admin/", "v1/", "callbacks/", "static/", "bench/", "join/", "login/", "logout/", "healthz", "docs/")
    return [p for p in out if not p.startswith(skip) and "^" not in p]


def fill_route(route: str, ids: dict) -> str:
    def sub(m):
        name = m.group(2)
        if name == "public_id":
            return ids["batch"] if route.startswith("batches/") else ids["call"]
        if name == "action":
            return "pause"
        return ids.get(name.removesuffix("_id"), str(uuid.uuid4()))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", sub, route)


def dashboard_checks(ctx, ids_a: dict, ids_b: dict) -> tuple[dict, list[str]]:
    import logging

    from django.test import Client

    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # expected 403/404s, not news
    routes = dashboard_patterns()
    counts = {"dashboard routes": len(routes), "outsider page requests": 0, "outsider leaks": 0,
              "insufficient-role actions tried": 0, "insufficient-role actions accepted": 0, "dashboard 5xx": 0}
    leaks: list[str] = []
    clients = {}
    for role in ("owner", "member", "viewer"):
        c = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
        c.force_login(ctx.users[role])
        clients[role] = c
    b_values = {v for k, v in ids_b.items() if k != "_missing" and v}
    for route in routes:
        if "<" in route:
            url = fill_route(route, ids_b)
            for method in ("get", "post"):
                counts["outsider page requests"] += 1
                r = getattr(clients["owner"], method)(url)
                counts["dashboard 5xx"] += r.status_code >= 500
                text = r.content.decode(errors="replace") if r.status_code < 300 else ""
                if r.status_code not in (404, 405) or any(v in text for v in b_values):
                    counts["outsider leaks"] += 1
                    leaks.append(f"page {method.upper()} /{route} with the other org's ids -> {r.status_code}")
        roles = ["viewer"] + (["member"] if route.startswith(ADMIN_PREFIXES) else [])
        for role in roles:
            counts["insufficient-role actions tried"] += 1
            before = fingerprint(ctx.orgs["a"])
            r = clients[role].post(fill_route(route, ids_a), {"role": "owner", "url": "https://example.com/x"})
            counts["dashboard 5xx"] += r.status_code >= 500
            # Pages that answer POST like GET (lists, fragments, exports) are not actions: a leak is a
            # success that changed something in the organization.
            if r.status_code < 400 and fingerprint(ctx.orgs["a"]) != before:
                counts["insufficient-role actions accepted"] += 1
                leaks.append(f"page POST /{route} as {role} -> {r.status_code}")
    return counts, leaks


def fingerprint(org) -> tuple:
    """Everything an action could change in the org, cheaply: rows, statuses, roles, key states."""
    from callops.accounts.models import ApiKey, AuditEntry, Membership
    from callops.batches.models import Batch
    from callops.calls.models import Call
    from callops.providers.models import ProviderAccount
    from callops.webhooks.models import WebhookDelivery, WebhookEndpoint

    return (AuditEntry.objects.filter(organization=org).count(),
            tuple(Call.objects.filter(organization=org).order_by("pk").values_list("status", "result_status")),
            tuple(Batch.objects.filter(organization=org).order_by("pk").values_list("status", flat=True)),
            tuple(Membership.objects.filter(organization=org).order_by("pk").values_list("role", flat=True)),
            tuple(ApiKey.objects.filter(organization=org).order_by("pk").values_list("revoked_at", flat=True)),
            tuple(WebhookEndpoint.objects.filter(organization=org).order_by("pk").values_list("url", "updated_at")),
            tuple(ProviderAccount.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True)),
            WebhookDelivery.objects.filter(endpoint__organization=org).count())


def run(ctx, args) -> Result:
    t0 = time.time()
    env = cl.base_env(ctx.redis.url, [])
    # No workers and no sweeper: nothing may change the organization behind the checks' back.
    cluster = cl.Cluster(env, workers=0, log_dir=ctx.log_dir, sweeper=False)
    try:
        ids = {}
        for tag in ("a", "b"):
            http = httpx.Client(base_url=cluster.url, headers={"Authorization": f"Bearer {ctx.keys[(tag, 'rw')]}"},
                                timeout=60)
            ids[tag] = make_objects(http, tag, ctx)
        api_counts, api_leaks = api_checks(cluster.url, ctx, ids["a"], ids["b"])
        dash_counts, dash_leaks = dashboard_checks(ctx, ids["a"], ids["b"])
        leaks = api_leaks + dash_leaks
        counts = {**api_counts, **dash_counts, "leaks": len(leaks),
                  "probe ids not backed by a row": ids["b"]["_missing"] or "none"}
        five = api_counts["API 5xx"] + dash_counts["dashboard 5xx"]
        return Result("isolation", counts, not leaks and not five, leaks[:40] + cluster.errors_logged(),
                      time.time() - t0)
    finally:
        cluster.stop()
