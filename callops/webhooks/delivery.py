"""Sending deliveries: claim due rows, sign, POST, log the attempt, schedule the retry.

A job claims a batch of due deliveries with a lease (a conditional UPDATE, so two workers never
send the same attempt at once; a killed worker's lease simply expires and the sweep hands the rows
to someone else) and takes one in-flight slot per destination (`slots`), which is what holds the
per-endpoint and per-host concurrency caps when several workers claim at the same moment. Each
attempt goes to the endpoint's current URL with its current headers (read at claim time), is
bounded by the hard total deadline of `callops.lib.http`, is logged as a WebhookAttempt row with
the URL actually used, and moves the delivery to delivered, to its next due time, or to failed
once the schedule is used up.
"""

from __future__ import annotations

import concurrent.futures
import email.utils
import functools
import json
import logging
import math
import os
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from callops.lib import http, standard_webhooks
from callops.webhooks import headers as custom_headers
from callops.webhooks import health, slots
from callops.webhooks.models import (
    DeliveryStatus,
    RecoveryJob,
    Trigger,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    signing_secrets,
)

log = logging.getLogger(__name__)

# Seconds before automatic attempt n+1 (index n): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_AUTO_ATTEMPTS = len(SCHEDULE)
JITTER = 0.2
OVERLOAD_PENALTY_SECONDS = 60  # after a timeout or a 429 (the Svix rule)
MAX_BATCH_PER_ENDPOINT = 100  # rows of one destination per batch (sent one after another)
# Due rows read per batch place: the extra ones stand in for rows of destinations found full.
CANDIDATES_PER_SLOT = 2
# A Retry-After beyond this is treated as this; the clamp to 2x the schedule applies after it anyway.
MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600

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


_DELTA_SECONDS = re.compile(r"\d{1,20}(?:\.\d{1,9})?")


def parse_retry_after(value) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP-date), or None.

    Whatever a receiver sends (`inf`, `Infinity`, `1e400`, `-5`, `NaN`, a date in year 9999,
    garbage) ends as a finite number of seconds in [0, MAX_RETRY_AFTER_SECONDS] or as None,
    never as an exception in the delivery loop.
    """
    if not value:
        return None
    value = str(value).strip()
    if _DELTA_SECONDS.fullmatch(value):
        seconds = float(value)
        return float(min(math.ceil(seconds), MAX_RETRY_AFTER_SECONDS)) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.UTC)
        seconds = (when - timezone.now()).total_seconds()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), float(MAX_RETRY_AFTER_SECONDS))


def _clean(text: str) -> str:
    # PostgreSQL text and JSON cannot hold U+0000; a receiver's reply may contain it.
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


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
        return self.error_kind == "aborted"


def _stored(text: str) -> str:
    limit = settings.WEBHOOK_STORED_BODY_BYTES
    if len(text) * 4 > limit:  # cheap test first: only long texts can be over the byte limit
        raw = text.encode("utf-8", "replace")
        if len(raw) > limit:
            text = raw[:limit].decode("utf-8", "ignore")
    return _clean(text)


def send(url: str, headers: dict, body: bytes) -> Outcome:
    """One POST with the hard deadline; classifies the result. Never raises for network trouble."""
    started = time.monotonic()
    try:
        resp = http.customer_request("POST", url, headers=headers, content=body,
                                     timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    except http.OutboundError as exc:
        return Outcome(False, error_kind=exc.kind, error=_clean(_error_text(exc.kind, str(exc))),
                       duration_ms=int((time.monotonic() - started) * 1000))
    elapsed = int((time.monotonic() - started) * 1000)
    text = resp.content.decode("utf-8", "replace")
    status = resp.status_code
    # Decoded once from the raw pairs (httpx's Headers re-detects the encoding on every lookup).
    reply_headers: dict[str, str] = {}
    for name, value in resp.headers.raw:
        key, val = _clean(name.decode("latin-1").lower()), _clean(value.decode("latin-1"))
        reply_headers[key] = f"{reply_headers[key]}, {val}" if key in reply_headers else val
    out = Outcome(200 <= status < 300, status=status, headers=reply_headers, body=_stored(text), duration_ms=elapsed)
    if out.ok:
        return out
    if 300 <= status < 400:
        location = reply_headers.get("location", "")[:500]
        out.error_kind = "redirect"
        out.error = (f"HTTP {status} redirect to {location or '(no Location)'}; redirects are not "
                     f"followed, update the webhook URL")
    else:
        out.error_kind = "http"
        out.error = f"HTTP {status}" + (f": {_clean(text[:200])}" if text.strip() else "")
        out.retry_after = parse_retry_after(reply_headers.get("retry-after"))
    if reply_headers.get("webhook-delivery", "").strip().lower() == "abort-message":
        out.error_kind = "aborted"
        out.error += ("; the receiver answered 'webhook-delivery: abort-message', so this message is not "
                      "retried (it can still be re-sent by hand)")
    return out


def _error_text(kind: str, message: str) -> str:
    if kind == "timeout":
        return f"timeout: no complete response within {settings.WEBHOOK_TIMEOUT_SECONDS:g}s"
    if kind == "blocked":
        return message
    return f"{kind}: {message}"


# --- Claiming --------------------------------------------------------------------------------------
class _Target:
    """An endpoint as it is at claim time: its current URL, headers, cap and secrets."""

    __slots__ = ("pk", "url", "headers", "enabled", "max_in_flight", "_secret", "_old", "_secrets")

    def __init__(self, pk, url, headers, enabled, max_in_flight, secret_encrypted, old_secrets):
        self.pk, self.url, self.enabled, self.max_in_flight = pk, url, enabled, max_in_flight
        # JSON columns arrive as text from a raw PostgreSQL cursor and decoded from the ORM.
        self.headers = custom_headers.usable(json.loads(headers) if isinstance(headers, str) else headers)
        old = json.loads(old_secrets) if isinstance(old_secrets, str) else old_secrets
        self._secret, self._old, self._secrets = secret_encrypted, old, None

    def secrets(self) -> list[str]:
        if self._secrets is None:
            self._secrets = signing_secrets(self._secret, self._old)  # ValueError if it cannot be decrypted
        return self._secrets


@dataclass(slots=True, eq=False)
class Claimed:
    """One leased delivery with what sending it needs (plain values, not a model instance)."""

    pk: int
    public_id: uuid.UUID
    organization_id: int
    endpoint_id: int | None
    call_id: int | None
    url: str
    status: str
    attempt_count: int
    auto_attempts: int
    manual_requested_at: object
    manual_trigger: str
    recovery_job_id: int | None
    event_type: str
    event_public_id: uuid.UUID
    body: str
    endpoint: _Target | None = None
    dest: str = ""
    host: str = ""

    @property
    def trigger(self) -> str:
        if self.manual_requested_at is None:
            return Trigger.AUTO
        return self.manual_trigger or Trigger.MANUAL

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.event_public_id.hex}"

    @property
    def target_url(self) -> str:
        """Endpoint deliveries go to the endpoint's URL as it is now; per-call ones keep theirs."""
        return self.endpoint.url if self.endpoint is not None else self.url


_CLAIMED_FIELDS = ("pk", "public_id", "organization_id", "endpoint_id", "call_id", "url", "status", "attempt_count",
                   "auto_attempts", "manual_requested_at", "manual_trigger", "recovery_job_id", "event__type",
                   "event__public_id", "event__body")
# The endpoint as it is now, read in the same statement as the lease (see _Target).
_TARGET_FIELDS = ("endpoint__url", "endpoint__headers", "endpoint__enabled", "endpoint__max_in_flight",
                  "endpoint__secret_encrypted", "endpoint__old_secrets")


@functools.lru_cache(maxsize=4096)
def _host(url: str) -> str:
    """`host:port` of a URL: the key of per-host caps and cool-downs."""
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    except ValueError:
        return url[:200]


def due_querysets(now):
    """(automatic, manual) due deliveries that no live lease holds; each served by a partial index."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    auto = WebhookDelivery.objects.filter(
        Q(endpoint__isnull=True) | Q(endpoint__enabled=True, endpoint__paused=False),
        status=DeliveryStatus.PENDING, next_attempt_at__isnull=False, next_attempt_at__lte=now).filter(free)
    manual = WebhookDelivery.objects.filter(manual_requested_at__isnull=False).filter(free)
    return auto, manual


def _candidates(now, ids, limit: int, include_manual: bool) -> tuple[list[tuple], set[int]]:
    """(pk, endpoint_id, url, single manual re-send, endpoint url, endpoint cap) of due rows,
    manual re-sends first; and the pks of the automatic ones."""
    auto, manual = due_querysets(now)
    if ids is not None:
        auto, manual = auto.filter(pk__in=list(ids)), manual.filter(pk__in=list(ids))
    fields = ("pk", "endpoint_id", "url", "manual_trigger", "endpoint__url", "endpoint__max_in_flight")
    out = []
    # Two queries, each served by its partial index (an OR across them would scan the table).
    if include_manual:
        out += [(pk, e, url, trig != Trigger.BULK, e_url, cap) for pk, e, url, trig, e_url, cap in
                manual.order_by("manual_requested_at", "id").values_list(*fields)[:limit]]
    # Ordered by the indexed column alone, so a large backlog is read in index order, not sorted.
    auto_rows = [(pk, e, url, False, e_url, cap) for pk, e, url, _, e_url, cap in
                 auto.order_by("next_attempt_at").values_list(*fields)[: int(limit * CANDIDATES_PER_SLOT)]]
    return out + auto_rows, {row[0] for row in auto_rows}


def claim(ids=None, limit: int | None = None, *, include_manual: bool = True) -> tuple[str, list[Claimed]]:
    """Lease up to `limit` due deliveries (only `ids` if given) to this worker.

    `include_manual=False` skips the query for requested re-sends (a drain loop asks for them once).
    Returns the lease token and the rows; the caller sends them and frees their slots.
    """
    limit = limit or settings.WEBHOOK_BATCH_SIZE
    now = timezone.now()
    candidates, auto_pks = _candidates(now, ids, limit, include_manual)
    if not candidates:
        return "", []
    token = uuid.uuid4().hex
    # Destinations: an endpoint (its own cap) or, for per-call URLs, a host (the per-host cap).
    info: dict[int, tuple[str, str]] = {}
    wanted: dict[str, tuple[int, str, bool]] = {}
    for pk, endpoint_id, url, single_manual, endpoint_url, cap in candidates:
        if endpoint_id:
            host, dest = _host(endpoint_url), f"e{endpoint_id}"
        else:
            host = _host(url)
            dest, cap = f"h{host}", slots.per_host_cap()
        info[pk] = (dest, host)
        # A cool-down holds back automatic and bulk sends; a single manual re-send goes anyway.
        respect_cool = wanted[dest][2] if dest in wanted else True
        wanted[dest] = (cap, host, respect_cool and not single_manual)
    taken = slots.acquire(token, wanted, settings.WEBHOOK_LEASE_SECONDS)
    if taken is None:
        taken = _fallback_slots(now, wanted)
    chosen, per_dest, seen, cooling = [], {}, set(), []
    for pk, _e, _u, single_manual, _eu, _c in candidates:
        if pk in seen:
            continue
        dest = info[pk][0]
        state = taken.get(dest, 0)
        if state in (slots.COOLING, slots.TAKEN_COOLING) and pk in auto_pks:
            cooling.append(pk)
        if not (state == slots.TAKEN or (state == slots.TAKEN_COOLING and single_manual)):
            continue
        n = per_dest.get(dest, 0)
        if n >= MAX_BATCH_PER_ENDPOINT:
            continue
        per_dest[dest] = n + 1
        seen.add(pk)
        chosen.append(pk)
        if len(chosen) >= limit:
            break
    defer(cooling, slots.cooldown_seconds())
    held = {d for d, s in taken.items() if s in (slots.TAKEN, slots.TAKEN_COOLING)}
    if not chosen:
        slots.release(token, held)
        return "", []
    order = {pk: i for i, pk in enumerate(chosen)}
    rows, targets = [], {}
    n_claimed = len(_CLAIMED_FIELDS)
    for values in _lease(chosen, token, now):
        row = Claimed(*values[:n_claimed])
        row.dest, row.host = info[row.pk]
        if row.endpoint_id:
            target = targets.get(row.endpoint_id)
            if target is None:
                target = targets[row.endpoint_id] = _Target(row.endpoint_id, *values[n_claimed:])
            row.endpoint = target
        rows.append(row)
    rows.sort(key=lambda r: order[r.pk])
    slots.release(token, held - {r.dest for r in rows})  # slots we took but lost every row of
    return token, rows


def _lease_sql() -> str:
    d, e, ep = WebhookDelivery._meta.db_table, WebhookEvent._meta.db_table, WebhookEndpoint._meta.db_table
    columns = ("id", "public_id", "organization_id", "endpoint_id", "call_id", "url", "status", "attempt_count",
               "auto_attempts", "manual_requested_at", "manual_trigger", "recovery_job_id")
    endpoint_columns = ("url", "headers", "enabled", "max_in_flight", "secret_encrypted", "old_secrets")
    return (f"WITH leased AS (UPDATE {d} AS d SET claim_token = %s, claimed_until = %s FROM {e} AS e "
            f"WHERE d.id = ANY(%s) AND e.id = d.event_id AND (d.claimed_until IS NULL OR d.claimed_until < %s) "
            f"RETURNING {', '.join(f'd.{c}' for c in columns)}, e.type AS e_type, e.public_id AS e_public_id, "
            f"e.body AS e_body) "
            f"SELECT {', '.join(f'leased.{c}' for c in columns)}, leased.e_type, leased.e_public_id, leased.e_body, "
            f"{', '.join(f'ep.{c}' for c in endpoint_columns)} "
            f"FROM leased LEFT JOIN {ep} AS ep ON ep.id = leased.endpoint_id")


def _lease(pks: list[int], token: str, now) -> list[tuple]:
    """Lease the rows no live lease holds; return what sending them needs (_CLAIMED_FIELDS, then
    _TARGET_FIELDS: the endpoint's current URL, headers and secrets, read at the same moment)."""
    until = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    if connection.vendor == "postgresql":
        # One statement for the lease and the read: the claim is on every batch's path.
        with connection.cursor() as cursor:
            cursor.execute(_lease_sql(), [token, until, list(pks), now])
            return cursor.fetchall()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    WebhookDelivery.objects.filter(free, pk__in=pks).update(claim_token=token, claimed_until=until)
    return list(WebhookDelivery.objects.filter(pk__in=pks, claim_token=token)
                .values_list(*_CLAIMED_FIELDS, *_TARGET_FIELDS))


def _fallback_slots(now, wanted) -> dict[str, int]:
    """Redis unreachable: count live database leases per endpoint (not race-proof, but bounded)."""
    endpoint_ids = [int(d[1:]) for d in wanted if d.startswith("e")]
    # Leased rows are pending ones or requested re-sends; saying so lets the endpoint and manual
    # indexes find them (the lease columns themselves are not indexed).
    leased = WebhookDelivery.objects.filter(Q(status=DeliveryStatus.PENDING) | Q(manual_requested_at__isnull=False),
                                            endpoint_id__in=endpoint_ids, claimed_until__gt=now)
    if _in_flight is not None and not _in_flight.done():
        # Rows of our own batch that are sent and only waiting to be recorded are not in flight.
        leased = leased.exclude(claim_token=_in_flight_token)
    busy = dict(leased.values_list("endpoint_id").annotate(n=Count("claim_token", distinct=True)))
    out = {}
    for dest, (cap, host, respect_cool) in wanted.items():
        cooling = slots.cooling_locally(host)
        if cooling and respect_cool:
            out[dest] = slots.COOLING
        elif dest.startswith("e") and busy.get(int(dest[1:]), 0) >= (cap or 1):
            out[dest] = slots.FULL
        else:
            out[dest] = slots.TAKEN_COOLING if cooling else slots.TAKEN
    return out


def release(token: str, pks) -> None:
    WebhookDelivery.objects.filter(claim_token=token, pk__in=list(pks)).update(claim_token="", claimed_until=None)


# Rows of a host that refused a connection in this batch wait this long before the next try; the
# row that was tried has its own retry on the normal schedule.
REFUSED_HOST_DEFER_SECONDS = 30


def defer(pks, seconds: float, *, token: str = "") -> None:
    """Hold automatic deliveries back without an attempt (their host is cooling down or refused a
    connection just now). Left due, they would stay at the head of the due order and every batch
    would take and drop them again, starving everyone else's deliveries behind them. Requested
    re-sends are not touched: a person asked for those."""
    pks = list(pks)
    if not pks:
        return
    rows = WebhookDelivery.objects.filter(pk__in=pks, manual_requested_at__isnull=True,
                                          status=DeliveryStatus.PENDING)
    if token:
        rows = rows.filter(claim_token=token)
    rows.update(next_attempt_at=timezone.now() + timedelta(seconds=seconds), claim_token="", claimed_until=None)


# --- Sending a claimed batch ---------------------------------------------------------------------
# Results are written in small groups (one transaction, bulk inserts) rather than one by one: the
# database round-trips, not HTTP, are the cost that matters. A worker killed between a send and
# its flush re-sends those rows after the lease expires; receivers dedupe on the same webhook-id.
FLUSH_EVERY = 100
FLUSH_SECONDS = 0.5
BASE_HEADERS = {"content-type": "application/json", "user-agent": "callops-webhooks/1.0"}


@dataclass(slots=True)
class Sent:
    row: Claimed
    trigger: str
    url: str
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
    try:
        record_safely(items, token)
    finally:
        if connection.errors_occurred or connection.needs_rollback:
            connection.close_if_unusable_or_obsolete()  # a broken connection must not poison the next flush


class _OrgSecrets(dict):
    """Per batch: each organization's signing secrets for per-call URLs, loaded once."""

    def __missing__(self, org_id):
        from callops.webhooks.services import org_secret

        value = self[org_id] = org_secret(org_id).signing_secrets()
        return value


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
            record_safely(items, token)
            return
        wait_for_writes()  # one flush at a time: keeps order and memory bounded
        _in_flight_token = token
        _in_flight = _writer_pool().submit(_record_in_background, items, token)

    started = last_flush = time.monotonic()
    # Start no send that could outlive the lease (a lease must be longer than one attempt's deadline);
    # whatever is left is released and stays due for the next job.
    budget = settings.WEBHOOK_LEASE_SECONDS - settings.WEBHOOK_TIMEOUT_SECONDS - 1
    last_of_dest = {row.dest: i for i, row in enumerate(rows)}
    held = set(last_of_dest)
    refused: set[str] = set()  # hosts that refused a connection in this batch
    cooling: set[str] = set()  # hosts that timed out in this batch (and now cool down everywhere)
    org_secrets = _OrgSecrets()
    sent = 0
    next_row = 0
    buffer: list[Sent] = []
    held_back: dict[float, list[int]] = {}  # wait (s) -> rows of a cooling or refusing host
    try:
        for i, row in enumerate(rows):
            if sent and time.monotonic() - started > budget:
                break
            next_row = i + 1
            if row.host in refused or (row.host in cooling and row.trigger != Trigger.MANUAL):
                # Don't let a refusing or stalled host hold the batch; its rows wait for the host
                # (written together when the batch ends).
                wait = slots.cooldown_seconds() if row.host in cooling else REFUSED_HOST_DEFER_SECONDS
                held_back.setdefault(wait, []).append(row.pk)
            else:
                item = _send_one(row, token, org_secrets)
                if item is not None:
                    buffer.append(item)
                    sent += 1
                    kind = item.outcome.error_kind
                    if kind == "timeout":
                        cooling.add(row.host)
                        slots.cool_down(row.host)
                    elif kind == "network":
                        refused.add(row.host)
                    if len(buffer) >= FLUSH_EVERY or time.monotonic() - last_flush > FLUSH_SECONDS:
                        flush(buffer)
                        buffer, last_flush = [], time.monotonic()
            if last_of_dest[row.dest] == i and i + 1 < len(rows):
                # Done with this destination: free its slot for other workers now, not at batch end.
                slots.release(token, [row.dest])
                held.discard(row.dest)
    finally:
        if buffer:
            flush(buffer)  # may still be running when we return; callers end with wait_for_writes()
        for wait, pks in held_back.items():
            defer(pks, wait, token=token)
        skipped = [pk for pks in held_back.values() for pk in pks] + [r.pk for r in rows[next_row:]]
        if skipped:
            release(token, skipped)  # requested re-sends (never deferred) and rows not reached stay due
        slots.release(token, held)
    return sent


def wait_for_writes() -> None:
    """Block until the attempt rows handed to the writer thread are committed."""
    global _in_flight
    if _in_flight is not None:
        _in_flight.result()
        _in_flight = None


def build_request(row: Claimed, secrets: list[str]) -> tuple[dict, bytes]:
    body = row.body.encode()
    headers = dict(BASE_HEADERS)
    if row.endpoint is not None:
        headers.update(row.endpoint.headers)
    # Signature headers last, so a custom header can never replace them.
    headers.update(standard_webhooks.headers(secrets, row.webhook_id, int(time.time()), body))
    return headers, body


def _send_one(row: Claimed, token: str, org_secrets: _OrgSecrets) -> Sent | None:
    trigger = row.trigger
    if trigger == Trigger.AUTO and row.status != DeliveryStatus.PENDING:
        release(token, [row.pk])
        return None
    if row.endpoint is not None and trigger == Trigger.AUTO and not row.endpoint.enabled:
        WebhookDelivery.objects.filter(pk=row.pk, claim_token=token).update(
            status=DeliveryStatus.SKIPPED, last_error="endpoint disabled", next_attempt_at=None,
            claim_token="", claimed_until=None, updated_at=timezone.now())
        return None
    url, headers, body = row.target_url, {}, row.body.encode()
    try:
        secrets = row.endpoint.secrets() if row.endpoint is not None else org_secrets[row.organization_id]
        headers, body = build_request(row, secrets)
    except ValueError as exc:  # the stored secret cannot be decrypted with the configured keys
        outcome = Outcome(False, error_kind="config", error=str(exc))
    except Exception as exc:
        # Whatever went wrong, the delivery gets an attempt row and its normal retry; it is never
        # left leased, to be re-sent after every lease expiry with nothing on record.
        log.exception("building webhook delivery %s failed", row.public_id)
        outcome = Outcome(False, error_kind="internal", error=_clean(f"internal error: {exc.__class__.__name__}: "
                                                                     f"{exc}")[:1000])
    else:
        try:
            outcome = send(url, headers, body)
        except Exception as exc:
            log.exception("sending webhook delivery %s failed", row.public_id)
            outcome = Outcome(False, error_kind="internal",
                              error=_clean(f"internal error: {exc.__class__.__name__}: {exc}")[:1000])
    return Sent(row, trigger, url, headers, body, outcome, timezone.now())


# --- Recording ------------------------------------------------------------------------------------
def _failure_update(item: Sent) -> tuple[dict, bool]:
    row, outcome, trigger = item.row, item.outcome, item.trigger
    update = {"last_error": outcome.error}
    final_failure = False
    if trigger == Trigger.AUTO:
        done = row.auto_attempts + 1
        update["auto_attempts"] = done
        delay = None if outcome.gone or outcome.abort else retry_delay(
            done, retry_after=outcome.retry_after, overloaded=outcome.overloaded)
        if delay is None:
            update.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
            final_failure = not outcome.abort and not outcome.gone
        else:
            update["next_attempt_at"] = item.at + timedelta(seconds=delay)
    elif outcome.abort and row.status in (DeliveryStatus.PENDING, DeliveryStatus.SKIPPED):
        # The receiver asked to stop this message: its remaining automatic retries are dropped too.
        update.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    elif row.status == DeliveryStatus.SKIPPED:
        # Manual tries never reschedule themselves; a skipped row that was tried is now failed.
        update["status"] = DeliveryStatus.FAILED
    return update, final_failure


_ATTEMPT_COLUMNS = ("delivery_id", "number", "trigger", "url", "request_headers", "request_body", "response_status",
                    "response_headers", "response_body", "duration_ms", "error_kind", "error", "succeeded",
                    "created_at")


def _insert_attempts(items: list[Sent]) -> None:
    if connection.vendor == "postgresql":
        # COPY: one round trip and no model instances; the writer thread shares the GIL with the
        # sending loop, so Python work saved here is throughput.
        table = connection.ops.quote_name(WebhookAttempt._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in _ATTEMPT_COLUMNS)
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for i in items:
                o = i.outcome
                copy.write_row((i.row.pk, i.row.attempt_count + 1, i.trigger, i.url, json.dumps(i.headers),
                                _clean(i.body.decode("utf-8", "replace")), o.status, json.dumps(o.headers or {}),
                                o.body, o.duration_ms, o.error_kind, o.error, o.ok, i.at))
        return
    WebhookAttempt.objects.bulk_create([
        WebhookAttempt(
            delivery_id=i.row.pk, number=i.row.attempt_count + 1, trigger=i.trigger, url=i.url,
            request_headers=i.headers, request_body=i.body.decode("utf-8", "replace"),
            response_status=i.outcome.status, response_headers=i.outcome.headers or {},
            response_body=i.outcome.body, duration_ms=i.outcome.duration_ms, error_kind=i.outcome.error_kind,
            error=i.outcome.error, succeeded=i.outcome.ok, created_at=i.at)
        for i in items])


def record_many(items: list[Sent], token: str) -> None:
    """Write the attempt rows and move each delivery on, in one transaction.

    Lock order (endpoints, then deliveries, then calls, then recoveries) is the same as every
    other writer's, so concurrent writers wait for each other instead of deadlocking.
    """
    if not items:
        return
    now = timezone.now()
    common = {"attempt_count": F("attempt_count") + 1, "claim_token": "", "claimed_until": None, "updated_at": now}
    manual_clear = {"manual_requested_at": None, "manual_trigger": ""}
    ok_groups: dict[tuple, list[int]] = {}
    failures: list[tuple[Sent, dict]] = []
    results: dict[int, list[health.Result]] = {}
    for item in items:
        row, outcome = item.row, item.outcome
        final = False
        if outcome.ok:
            # Grouped by reply status and URL (an endpoint whose URL changed records the new one).
            ok_groups.setdefault((outcome.status, item.url if item.url != row.url else None), []).append(row.pk)
        else:
            update, final = _failure_update(item)
            if item.trigger != Trigger.AUTO:
                update.update(manual_clear)
            if item.url != row.url:
                update["url"] = item.url
            failures.append((item, update))
        if row.endpoint_id:
            results.setdefault(row.endpoint_id, []).append(health.Result(
                at=item.at, ok=outcome.ok, gone=outcome.gone, aborted=outcome.abort, final=final,
                failing_attempt=item.trigger == Trigger.AUTO and row.auto_attempts + 1 >= health.FAILING_AFTER_ATTEMPTS,
                error=outcome.error, event_type=row.event_type, delivery_public_id=str(row.public_id)))
    call_ids = {i.row.call_id for i in items if i.row.call_id and not i.row.endpoint_id}
    with transaction.atomic():
        locked = health.lock(results)
        _insert_attempts(items)
        for item, update in failures:
            qs = WebhookDelivery.objects.filter(pk=item.row.pk)
            if token:
                qs = qs.filter(claim_token=token)
            qs.update(**common, **update, last_response_status=item.outcome.status)
        for (status, new_url), pks in ok_groups.items():
            qs = WebhookDelivery.objects.filter(pk__in=pks)
            if token:
                qs = qs.filter(claim_token=token)
            extra = {"url": new_url} if new_url else {}
            qs.update(**common, **manual_clear, **extra, status=DeliveryStatus.DELIVERED, delivered_at=now,
                      next_attempt_at=None, last_error="", last_response_status=status)
        if call_ids:
            sync_call_status(call_ids)
        _count_recoveries(items, now)
        health.apply(locked, results)


def record_safely(items: list[Sent], token: str) -> None:
    """record_many, but one unrecordable attempt cannot keep the others (or itself) off the record.

    If the batch fails, each attempt is recorded on its own; one that still fails is recorded
    without the receiver's reply (which is what usually cannot be stored). Only when even that
    fails (the database is gone) do the rows keep their lease, to be sent again when it expires.
    """
    try:
        record_many(items, token)
        return
    except Exception:
        log.exception("could not record %d webhook attempts together; recording them one by one", len(items))
    for item in items:
        try:
            record_many([item], token)
        except Exception as exc:
            o = item.outcome
            bare = Outcome(o.ok, status=o.status, error_kind=o.error_kind or ("" if o.ok else "internal"),
                           error=_clean(f"{o.error[:500]} (the reply could not be stored: {exc.__class__.__name__})"
                                        .strip()), duration_ms=o.duration_ms)
            try:
                record_many([Sent(item.row, item.trigger, item.url, {}, item.body, bare, item.at)], token)
            except Exception:
                if _deleted(item.row.pk):
                    # Its endpoint was deleted while it was being sent: nothing is left to record on.
                    log.info("webhook delivery %s was deleted while it was sent", item.row.public_id)
                    continue
                log.exception("could not record webhook attempt %s; it will be retried", item.row.public_id)


def _deleted(pk: int) -> bool:
    try:
        return not WebhookDelivery.objects.filter(pk=pk).exists()
    except Exception:  # the database is gone: that is not a deletion
        return False


def _count_recoveries(items: list[Sent], now) -> None:
    """Bulk-recovery progress counts re-sends actually made; each is counted once (its mark is cleared)."""
    per_job: dict[int, tuple[list[int], list[int]]] = {}
    for item in items:
        if item.row.recovery_job_id and item.trigger != Trigger.AUTO:
            ok, failed = per_job.setdefault(item.row.recovery_job_id, ([], []))
            (ok if item.outcome.ok else failed).append(item.row.pk)
    for job_id, (ok, failed) in sorted(per_job.items()):
        marks = WebhookDelivery.objects.filter(recovery_job_id=job_id)
        n_ok = marks.filter(pk__in=ok).update(recovery_job=None) if ok else 0
        n_failed = marks.filter(pk__in=failed).update(recovery_job=None) if failed else 0
        if n_ok or n_failed:
            RecoveryJob.objects.filter(pk=job_id).update(done=F("done") + n_ok + n_failed,
                                                         delivered=F("delivered") + n_ok)
            finish_recovery_if_complete(job_id, now)


def finish_recovery_if_complete(job_id: int, now=None) -> bool:
    """Done once marking finished and every marked row was sent (both sides call this)."""
    return bool(RecoveryJob.objects.filter(pk=job_id, status=RecoveryJob.Status.RUNNING, marking_done=True,
                                           done__gte=F("marked")).update(status=RecoveryJob.Status.DONE,
                                                                         finished_at=now or timezone.now()))


def sync_call_status(call_ids) -> None:
    """The call's webhook_status/webhook_error follow its latest delivery to the per-call URL.

    The call rows are locked first (in id order), then the latest delivery is read: a new event's
    delivery (which sets the call back to `pending` under the same lock) cannot be overwritten by
    the result of an older one.
    """
    from django.db.models import OuterRef, Subquery

    from callops.calls.models import Call

    ids = sorted(set(call_ids))
    list(Call.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    latest = WebhookDelivery.objects.filter(call_id=OuterRef("pk"), endpoint__isnull=True).order_by("-id")
    rows = Call.objects.filter(pk__in=ids).annotate(
        d_status=Subquery(latest.values("status")[:1]), d_error=Subquery(latest.values("last_error")[:1]),
    ).values_list("pk", "d_status", "d_error", "webhook_status", "webhook_error")
    for pk, status, error, current, current_error in rows:
        if status is None:
            continue
        status = {DeliveryStatus.DELIVERED: "delivered", DeliveryStatus.PENDING: "pending"}.get(status, "failed")
        error = "" if status == "delivered" else (error or "")[:2000]
        if (status, error) != (current, current_error):
            Call.objects.filter(pk=pk).update(webhook_status=status, webhook_error=error)
