"""Sending deliveries: claim due rows, sign, POST, log the attempt, schedule the retry.

A job claims a batch of due deliveries with a lease (a conditional UPDATE, so two workers never
send the same attempt at once; a killed worker's lease simply expires and the sweep hands the rows
to someone else). Each attempt is bounded by the hard total deadline of `callops.lib.http`, is
logged as a WebhookAttempt row, and moves the delivery to delivered, to its next due time, or to
failed once the schedule is used up.
"""

from __future__ import annotations

import concurrent.futures
import email.utils
import logging
import math
import os
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from callops.lib import http, signing
from callops.webhooks import health
from callops.webhooks.models import DeliveryStatus, Trigger, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

# Seconds before automatic attempt n+1 (index n): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_AUTO_ATTEMPTS = len(SCHEDULE)
JITTER = 0.2
OVERLOAD_PENALTY_SECONDS = 60  # after a timeout or a 429 (the Svix rule)
MAX_BATCH_PER_ENDPOINT = 100  # rows of one endpoint per batch (sent one after another)

_rng = random.Random()


def retry_delay(auto_attempts_done: int, *, retry_after: float | None = None, overloaded: bool = False,
                rng=_rng) -> float | None:
    """Seconds until the next automatic attempt, or None when the schedule is used up."""
    if auto_attempts_done >= MAX_AUTO_ATTEMPTS:
        return None
    delay = SCHEDULE[auto_attempts_done] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        # A receiver may slow retries down, but neither speed them up nor stall them indefinitely.
        delay = min(max(retry_after, delay), 2 * delay)
    if overloaded:
        delay = max(delay, OVERLOAD_PENALTY_SECONDS)
    return delay


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return float(math.ceil(float(value))) if float(value) >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.UTC)
    return max(0.0, (when - timezone.now()).total_seconds())


@dataclass
class Outcome:
    ok: bool
    status: int | None = None
    headers: dict | None = None
    body: str = ""
    error_kind: str = ""
    error: str = ""
    duration_ms: int = 0
    retry_after: float | None = None

    @property
    def overloaded(self) -> bool:
        return self.error_kind == "timeout" or self.status == 429

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def abort(self) -> bool:
        """The receiver asked us to stop retrying this message (the Svix `webhook-delivery` header)."""
        return (self.headers or {}).get("webhook-delivery", "").strip().lower() == "abort-message"


def _stored(text: str) -> str:
    limit = settings.WEBHOOK_STORED_BODY_BYTES
    raw = text.encode("utf-8", "replace")
    return raw[:limit].decode("utf-8", "ignore") if len(raw) > limit else text


def signing_secrets(delivery: WebhookDelivery) -> list[str]:
    if delivery.endpoint_id:
        return delivery.endpoint.signing_secrets()
    from callops.webhooks.services import org_secret

    return org_secret(delivery.organization_id).signing_secrets()


def build_request(delivery: WebhookDelivery, secrets: list[str]) -> tuple[dict, bytes]:
    body = delivery.event.body.encode()
    headers = {"content-type": "application/json", "user-agent": "callops-webhooks/1.0"}
    if delivery.endpoint_id:
        headers.update(delivery.endpoint.headers or {})
    # Signature headers last, so a custom header can never replace them.
    headers.update(signing.headers(secrets, delivery.event.webhook_id, int(time.time()), body))
    return headers, body


def send(url: str, headers: dict, body: bytes) -> Outcome:
    """One POST with the hard deadline; classifies the result. Never raises for network trouble."""
    started = time.monotonic()
    try:
        resp = http.customer_request("POST", url, headers=headers, content=body,
                                     timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    except http.OutboundError as exc:
        return Outcome(False, error_kind=exc.kind, error=_error_text(exc.kind, str(exc), url),
                       duration_ms=int((time.monotonic() - started) * 1000))
    elapsed = int((time.monotonic() - started) * 1000)
    text = resp.content.decode("utf-8", "replace")
    out = Outcome(200 <= resp.status_code < 300, status=resp.status_code, headers=dict(resp.headers),
                  body=_stored(text), duration_ms=elapsed)
    if out.ok:
        return out
    if 300 <= resp.status_code < 400:
        location = resp.headers.get("location", "")
        out.error_kind = "redirect"
        out.error = (f"HTTP {resp.status_code} redirect to {location or '(no Location)'}; redirects are not "
                     f"followed, update the webhook URL")
    else:
        out.error_kind = "http"
        out.error = f"HTTP {resp.status_code}" + (f": {text[:200]}" if text.strip() else "")
        out.retry_after = parse_retry_after(resp.headers.get("retry-after"))
    return out


def _error_text(kind: str, message: str, url: str) -> str:
    if kind == "timeout":
        return f"timeout: no complete response within {settings.WEBHOOK_TIMEOUT_SECONDS:g}s"
    if kind == "blocked":
        return message
    return f"{kind}: {message}"


# --- Claiming --------------------------------------------------------------------------------------
def due_querysets(now):
    """(automatic, manual) due deliveries that no live lease holds; each served by a partial index."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    auto = WebhookDelivery.objects.filter(
        Q(endpoint__isnull=True) | Q(endpoint__enabled=True, endpoint__paused=False),
        status=DeliveryStatus.PENDING, next_attempt_at__isnull=False, next_attempt_at__lte=now).filter(free)
    manual = WebhookDelivery.objects.filter(manual_requested_at__isnull=False).filter(free)
    return auto, manual


def claim(ids=None, limit: int | None = None, *, include_manual: bool = True) -> tuple[str, list[WebhookDelivery]]:
    """Lease up to `limit` due deliveries (only `ids` if given) to this worker.

    `include_manual=False` skips the query for requested re-sends (a drain loop asks for them once).
    """
    limit = limit or settings.WEBHOOK_BATCH_SIZE
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    # Two queries, each served by its partial index (an OR across them would scan the table).
    auto, manual = due_querysets(now)
    if ids is not None:
        auto, manual = auto.filter(pk__in=list(ids)), manual.filter(pk__in=list(ids))
    fields = ("pk", "endpoint_id", "endpoint__max_in_flight")
    candidates = list(manual.order_by("manual_requested_at", "id").values_list(*fields)[:limit]) \
        if include_manual else []
    # Ordered by the indexed column alone, so a large backlog is read in index order, not sorted.
    candidates += list(auto.order_by("next_attempt_at").values_list(*fields)[: limit * 2])
    if not candidates:
        return "", []
    # Per-endpoint concurrency cap: count the workers (claim tokens) already sending to each one.
    endpoint_ids = {e for _, e, _ in candidates if e}
    leased = WebhookDelivery.objects.filter(endpoint_id__in=endpoint_ids, claimed_until__gt=now)
    if _in_flight is not None and not _in_flight.done():
        # Rows of our own batch that are sent and only waiting to be recorded are not in flight.
        leased = leased.exclude(claim_token=_in_flight_token)
    busy = dict(leased.values_list("endpoint_id").annotate(n=Count("claim_token", distinct=True)))
    chosen, per_endpoint = [], {}
    for pk, endpoint_id, cap in candidates:
        if pk in chosen:
            continue
        if endpoint_id:
            if busy.get(endpoint_id, 0) >= (cap or 1):
                continue
            taken = per_endpoint.get(endpoint_id, 0)
            if taken >= MAX_BATCH_PER_ENDPOINT:
                continue
            per_endpoint[endpoint_id] = taken + 1
        chosen.append(pk)
        if len(chosen) >= limit:
            break
    if not chosen:
        return "", []
    token = uuid.uuid4().hex
    until = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    WebhookDelivery.objects.filter(free, pk__in=chosen).update(claim_token=token, claimed_until=until)
    rows = list(WebhookDelivery.objects.filter(pk__in=chosen, claim_token=token)
                .select_related("event", "endpoint").order_by("next_attempt_at", "id"))
    return token, rows


def release(token: str, pks) -> None:
    WebhookDelivery.objects.filter(claim_token=token, pk__in=list(pks)).update(claim_token="", claimed_until=None)


# --- Sending a claimed batch ---------------------------------------------------------------------
# Results are written in small groups (one transaction, bulk inserts) rather than one by one: the
# database round-trips, not HTTP, are the cost that matters. A worker killed between a send and
# its flush re-sends those rows after the lease expires; receivers dedupe on the same webhook-id.
FLUSH_EVERY = 50
FLUSH_SECONDS = 0.5


@dataclass
class Sent:
    delivery: WebhookDelivery
    trigger: str
    headers: dict
    body: bytes
    outcome: Outcome
    at: object


_writer: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None
# The flush still running on the writer thread; the next batch's claim overlaps it. Module state:
# one drain runs at a time per process (RQ workers run one job at a time).
_in_flight: concurrent.futures.Future | None = None
_in_flight_token = ""


def _writer_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _writer
    if _writer is None or _writer[0] != os.getpid():
        _writer = (os.getpid(), concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="webhook-writer"))
    return _writer[1]


def _record_in_background(items: list[Sent], token: str) -> None:
    from django.db import connection

    try:
        record_many(items, token)
    except Exception:
        # The rows keep their lease; when it expires they are sent again (same webhook-id).
        log.exception("could not record %d webhook attempts; they will be retried", len(items))
        connection.close()  # a broken connection must not poison the next flush


def deliver_due(ids=None, limit: int | None = None, *, include_manual: bool = True) -> int:
    """Claim and send due deliveries; returns how many attempts were made.

    In a worker, results are written by a background thread while the next requests go out, so
    database latency overlaps network latency. Inside an open transaction (tests, or a caller
    that wants the writes in its own transaction) they are written inline instead.
    """
    token, rows = claim(ids, limit, include_manual=include_manual)
    if not rows:
        return 0
    background = settings.WEBHOOK_BACKGROUND_WRITES and not transaction.get_connection().in_atomic_block

    def flush(items: list[Sent]) -> None:
        global _in_flight, _in_flight_token
        if not background:
            record_many(items, token)
            return
        wait_for_writes()  # one flush at a time: keeps order and memory bounded
        _in_flight_token = token
        _in_flight = _writer_pool().submit(_record_in_background, items, token)

    started = last_flush = time.monotonic()
    # Start no send that could outlive the lease (a lease must be longer than one attempt's deadline);
    # whatever is left is released and stays due for the next job.
    budget = settings.WEBHOOK_LEASE_SECONDS - settings.WEBHOOK_TIMEOUT_SECONDS - 1
    stalled: set[str] = set()
    sent = 0
    left = [r.pk for r in rows]
    buffer: list[Sent] = []
    try:
        for delivery in rows:
            if sent and time.monotonic() - started > budget:
                break
            left.remove(delivery.pk)
            host = urlsplit(delivery.url).netloc
            if host in stalled:
                # This host just timed out or refused; don't let it hold the batch, its rows stay due.
                release(token, [delivery.pk])
                continue
            item = _send_one(delivery, token)
            if item is None:
                continue
            buffer.append(item)
            sent += 1
            if not item.outcome.ok and item.outcome.error_kind in ("timeout", "network"):
                stalled.add(host)
            if len(buffer) >= FLUSH_EVERY or time.monotonic() - last_flush > FLUSH_SECONDS:
                flush(buffer)
                buffer, last_flush = [], time.monotonic()
    finally:
        if buffer:
            flush(buffer)  # may still be running when we return; callers end with wait_for_writes()
        if left:
            release(token, left)
    return sent


def wait_for_writes() -> None:
    """Block until the attempt rows handed to the writer thread are committed."""
    global _in_flight
    if _in_flight is not None:
        _in_flight.result()
        _in_flight = None


def _send_one(delivery: WebhookDelivery, token: str) -> Sent | None:
    trigger = (delivery.manual_trigger or Trigger.MANUAL) if delivery.manual_requested_at else Trigger.AUTO
    if trigger == Trigger.AUTO and delivery.status != DeliveryStatus.PENDING:
        release(token, [delivery.pk])
        return None
    if delivery.endpoint_id and trigger == Trigger.AUTO and not delivery.endpoint.enabled:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SKIPPED, last_error="endpoint disabled", next_attempt_at=None,
            claim_token="", claimed_until=None, updated_at=timezone.now())
        return None
    try:
        headers, body = build_request(delivery, signing_secrets(delivery))
    except ValueError as exc:  # the stored secret cannot be decrypted with the configured keys
        outcome = Outcome(False, error_kind="config", error=str(exc))
        headers, body = {}, delivery.event.body.encode()
    else:
        outcome = send(delivery.url, headers, body)
    return Sent(delivery, trigger, headers, body, outcome, timezone.now())


def attempt(delivery: WebhookDelivery, token: str = "") -> Outcome | None:
    """Send one claimed delivery now and record the result."""
    item = _send_one(delivery, token)
    if item is None:
        return None
    record_many([item], token)
    return item.outcome


def _failure_update(item: Sent) -> tuple[dict, bool]:
    delivery, outcome, trigger = item.delivery, item.outcome, item.trigger
    update = {"last_error": outcome.error}
    final_failure = False
    if trigger == Trigger.AUTO:
        done = delivery.auto_attempts + 1
        update["auto_attempts"] = done
        delay = None if outcome.gone or outcome.abort else retry_delay(
            done, retry_after=outcome.retry_after, overloaded=outcome.overloaded)
        if delay is None:
            update.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
            final_failure = True
        else:
            update["next_attempt_at"] = item.at + timedelta(seconds=delay)
    elif delivery.status == DeliveryStatus.SKIPPED:
        # Manual tries never reschedule themselves; a skipped row that was tried is now failed.
        update["status"] = DeliveryStatus.FAILED
    return update, final_failure


def record_many(items: list[Sent], token: str) -> None:
    """Write the attempt rows and move each delivery on, in one transaction."""
    now = timezone.now()
    common = {"attempt_count": F("attempt_count") + 1, "claim_token": "", "claimed_until": None, "updated_at": now}
    manual_clear = {"manual_requested_at": None, "manual_trigger": ""}
    ok_groups: dict[int, list[int]] = {}
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create([
            WebhookAttempt(
                delivery_id=i.delivery.pk, number=i.delivery.attempt_count + 1, trigger=i.trigger,
                url=i.delivery.url, request_headers=i.headers, request_body=i.body.decode("utf-8", "replace"),
                response_status=i.outcome.status, response_headers=i.outcome.headers or {},
                response_body=i.outcome.body, duration_ms=i.outcome.duration_ms, error_kind=i.outcome.error_kind,
                error=i.outcome.error, succeeded=i.outcome.ok, created_at=i.at)
            for i in items])
        failures = []
        for item in items:
            if item.outcome.ok:
                ok_groups.setdefault(item.outcome.status, []).append(item.delivery.pk)
                continue
            update, final = _failure_update(item)
            if item.trigger != Trigger.AUTO:
                update.update(manual_clear)
            qs = WebhookDelivery.objects.filter(pk=item.delivery.pk)
            if token:
                qs = qs.filter(claim_token=token)
            qs.update(**common, **update, last_response_status=item.outcome.status)
            failures.append((item, final))
        for status, pks in ok_groups.items():
            qs = WebhookDelivery.objects.filter(pk__in=pks)
            if token:
                qs = qs.filter(claim_token=token)
            qs.update(**common, **manual_clear, status=DeliveryStatus.DELIVERED, delivered_at=now,
                      next_attempt_at=None, last_error="", last_response_status=status)
        for call_id in {i.delivery.call_id for i in items if i.delivery.call_id and not i.delivery.endpoint_id}:
            sync_call_status(call_id)
        succeeded = {}
        for item in items:
            if item.outcome.ok and item.delivery.endpoint_id:
                succeeded[item.delivery.endpoint_id] = item.delivery.endpoint
        for endpoint in succeeded.values():
            health.after_success(endpoint)
        for item, final in failures:
            if item.delivery.endpoint_id:
                health.after_failure(item.delivery, item.outcome, final_failure=final, trigger=item.trigger)


def sync_call_status(call_id: int) -> None:
    """The call's webhook_status/webhook_error follow its deliveries to the per-call URL."""
    from callops.calls.models import Call

    rows = list(WebhookDelivery.objects.filter(call_id=call_id, endpoint__isnull=True)
                .order_by("-id").values_list("status", "last_error"))
    if not rows:
        return
    failed = [err for status, err in rows if status == DeliveryStatus.FAILED]
    pending = [err for status, err in rows if status == DeliveryStatus.PENDING]
    if failed:
        status, error = "failed", failed[0]
    elif pending:
        status, error = "pending", next((e for e in pending if e), "")
    else:
        status, error = "delivered", ""
    Call.objects.filter(pk=call_id).update(webhook_status=status, webhook_error=error[:2000])
