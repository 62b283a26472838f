"""Inbound provider callbacks: `POST /callbacks/<kind>/<callback_token>/`.

The unguessable token routes the request to one provider account (unknown → 404); the adapter
verifies and parses the body (rejected → 401); each report is applied to the call it names
through the lifecycle function with source `callback`. Reports for ids we do not know still
answer 200, so a provider does not retry them forever; duplicates and out-of-order reports are
absorbed by the forward-only rule and recorded as ignored.

A report finds its call by the lookups its adapter names (`callback_lookups`: by default the one
id field `callback_id_field`), never by "any id that matches": Dograh keeps the workflow id in
provider_job_id, and workflow ids and run ids are both small integers, so a loose match would
update another call. Trillet's flat job callbacks add their job id with the number dialed.

It lives in `calls` because applying reports to calls is calls' work: the adapter only verifies
and parses, so `providers` does not depend on the call services.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from callops.providers.base import CallbackRejected
from callops.providers.models import ProviderAccount
from callops.providers.registry import adapter_for

from .models import ACTIVE, Call, EventSource
from .status_sync import apply_provider_report

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 256 * 1024
# Dograh retries deliveries with the same X-Dograh-Delivery-Id (api/tasks/webhook_delivery.py);
# seen ids live in Redis (shared by every web process) for longer than its retry window.
DELIVERY_SEEN_SECONDS = 7 * 24 * 3600


def _find_call(account: ProviderAccount, adapter, report) -> Call | None:
    for lookup in adapter.callback_lookups(report):
        call = Call.objects.filter(provider_account=account, **lookup).order_by("-id").first()
        if call is not None:
            return call
    return None


@csrf_exempt
@require_POST
def provider_callback(request, kind: str, token: str):
    account = ProviderAccount.objects.filter(kind=kind, callback_token=token, is_active=True).first()
    if account is None:
        return JsonResponse({"error": "unknown callback url"}, status=404)
    length = int(request.headers.get("Content-Length") or 0)
    if length > MAX_CALLBACK_BYTES:
        return JsonResponse({"error": "callback body too large"}, status=413)
    body = request.body
    if len(body) > MAX_CALLBACK_BYTES:
        return JsonResponse({"error": "callback body too large"}, status=413)
    headers = {k.lower(): v for k, v in request.headers.items()}
    adapter = adapter_for(account)
    try:
        reports = adapter.parse_callback(body, headers)
    except CallbackRejected as exc:
        log.warning("rejected %s callback for account %s: %s", kind, account.pk, exc)
        return JsonResponse({"error": "callback verification failed"}, status=401)
    except (ValueError, TypeError, AttributeError) as exc:
        return JsonResponse({"error": f"unreadable callback body: {exc}"[:200]}, status=400)
    delivery = headers.get("x-dograh-delivery-id", "")[:100]
    seen_key = f"callback-delivery:{account.pk}:{delivery}"
    try:
        if delivery and not cache.add(seen_key, 1, DELIVERY_SEEN_SECONDS):
            return JsonResponse({"received": len(reports), "applied": 0, "unknown": 0, "duplicate": True})
        return _apply(account, adapter, kind, reports)
    except Exception:
        # Transient (database, Redis): 503 so the provider retries; forget the id so the retry counts.
        log.exception("%s callback for account %s not applied", kind, account.pk)
        if delivery:
            try:
                cache.delete(seen_key)
            except Exception:  # noqa: BLE001 - Redis down too; the retry then reads as new anyway
                pass
        return JsonResponse({"error": "callback could not be applied now; retry"}, status=503)


def _apply(account, adapter, kind, reports) -> JsonResponse:
    applied = unknown = 0
    for report in reports:
        call = _find_call(account, adapter, report)
        if call is None:
            unknown += 1
            log.info("%s callback for unknown id %r on account %s", kind, report.provider_call_id, account.pk)
            continue
        call = apply_provider_report(call, report, source=EventSource.CALLBACK)
        if report.details_pending and call.status not in ACTIVE:
            # Details (Dograh's transcript) come from a read: the sync sweep reads the call now.
            Call.objects.filter(pk=call.pk).update(next_sync_at=timezone.now())
        applied += 1
    return JsonResponse({"received": len(reports), "applied": applied, "unknown": unknown})
