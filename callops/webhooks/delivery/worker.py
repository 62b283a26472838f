"""The delivery loop: claim a batch, send it destination by destination, record what was sent.

Attempts are recorded inline, in groups of FLUSH_EVERY, by the thread that sends. A writer thread
that recorded them while the next requests went out (its state was module globals) gained 9% on
`make bench-webhooks ARGS="--count 3000 --seconds 2"` (ratio 0.69 with it, 0.63 without, mean of
three interleaved runs each), under the 15% it had to earn, so it went.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.utils import timezone

from callops.webhooks.delivery import caps, lease, request
from callops.webhooks.delivery.record import Sent, record_safely
from callops.webhooks.models import DeliveryStatus, Trigger, WebhookDelivery

log = logging.getLogger(__name__)

# Results are written in small groups (one transaction, bulk inserts) rather than one by one: the
# database round-trips, not HTTP, are the cost that matters. A worker killed between a send and
# its flush re-sends those rows after the lease expires; receivers dedupe on the same webhook-id.
FLUSH_EVERY = 100
FLUSH_SECONDS = 0.5
# Rows of a host that refused a connection in this batch wait this long before the next try; the
# row that was tried has its own retry on the normal schedule.
REFUSED_HOST_DEFER_SECONDS = 30


class _OrgSecrets(dict):
    """Per batch: each organization's signing secrets for per-call URLs, loaded once."""

    def __missing__(self, org_id):
        # Breaks the cycle webhooks.services -> webhooks.jobs -> webhooks.delivery -> services.
        from callops.webhooks.services import org_secret

        value = self[org_id] = org_secret(org_id).signing_secrets()
        return value


def send_one(row: lease.Claimed, token: str, org_secrets: _OrgSecrets) -> Sent | None:
    """Sign and send one claimed row; None when it is no longer to be sent (its lease is dropped)."""
    trigger = row.trigger
    if trigger == Trigger.AUTO and row.status != DeliveryStatus.PENDING:
        lease.release(token, [row.pk])
        return None
    if row.endpoint is not None and trigger == Trigger.AUTO and not row.endpoint.enabled:
        WebhookDelivery.objects.filter(pk=row.pk, claim_token=token).update(
            status=DeliveryStatus.SKIPPED, last_error="endpoint disabled", next_attempt_at=None,
            claim_token="", claimed_until=None, updated_at=timezone.now())
        return None
    url, headers, body = row.target_url, {}, row.body.encode()
    try:
        secrets = row.endpoint.secrets() if row.endpoint is not None else org_secrets[row.organization_id]
        headers, body = request.build_request(row, secrets)
    except ValueError as exc:  # the stored secret cannot be decrypted with the configured keys
        outcome = request.Outcome(False, error_kind="config", error=str(exc))
    except Exception as exc:
        # Whatever went wrong, the delivery gets an attempt row and its normal retry; it is never
        # left leased, to be re-sent after every lease expiry with nothing on record.
        log.exception("building webhook delivery %s failed", row.public_id)
        outcome = request.internal_error(exc)
    else:
        try:
            outcome = request.send(url, headers, body)
        except Exception as exc:
            log.exception("sending webhook delivery %s failed", row.public_id)
            outcome = request.internal_error(exc)
    return Sent(row, trigger, url, headers, body, outcome, timezone.now())


def deliver_due(ids=None, limit: int | None = None, *, include_manual: bool = True) -> int:
    """Claim and send one batch of due deliveries; returns how many attempts were made, every one
    of them on record when this returns."""
    token, rows = lease.claim(ids, limit, include_manual=include_manual)
    if not rows:
        return 0
    started = last_flush = time.monotonic()
    # Start no send that could outlive the lease (a lease must be longer than one attempt's
    # deadline); whatever is left is released and stays due for the next job.
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
                # Don't let a refusing or stalled host hold the batch; its rows wait for the
                # host (written together when the batch ends).
                wait = caps.cooldown_seconds() if row.host in cooling else REFUSED_HOST_DEFER_SECONDS
                held_back.setdefault(wait, []).append(row.pk)
            else:
                item = send_one(row, token, org_secrets)
                if item is not None:
                    buffer.append(item)
                    sent += 1
                    kind = item.outcome.error_kind
                    if kind == "timeout":
                        cooling.add(row.host)
                        caps.cool_down(row.host)
                    elif kind == "network":
                        refused.add(row.host)
                    if len(buffer) >= FLUSH_EVERY or time.monotonic() - last_flush > FLUSH_SECONDS:
                        record_safely(buffer, token)
                        buffer, last_flush = [], time.monotonic()
            if last_of_dest[row.dest] == i and i + 1 < len(rows):
                # Done with this destination: free its slot for other workers now, not at batch end.
                caps.release(token, [row.dest])
                held.discard(row.dest)
    finally:
        if buffer:
            record_safely(buffer, token)
        for wait, pks in held_back.items():
            lease.defer(pks, wait, token=token)
        skipped = [pk for pks in held_back.values() for pk in pks] + [r.pk for r in rows[next_row:]]
        if skipped:
            lease.release(token, skipped)  # requested re-sends (never deferred) and rows not reached stay due
        caps.release(token, held)
    return sent
