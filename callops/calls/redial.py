"""Redialing a finished call (triage's "retry", not an HTTP retry): a new call to the same person
with the same settings, linked to the original.

Used by failure triage. The new call goes through `create_call` and is placed by the ordinary
placement job, so it follows exactly the path of any other call. A call is retried at most once
(its retry is itself retried, if needed, from the new call), so a double click or two people
working the same triage group never dial someone twice.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from . import jobs, services
from .models import Call, CallStatus, EventSource

RETRYABLE = frozenset({CallStatus.FAILED, CallStatus.NO_ANSWER, CallStatus.BUSY})


class RetryRefused(Exception):
    """This call cannot be retried (still live, completed, already retried, agent inactive)."""


def retry_call(call: Call, source: str = EventSource.USER, actor_label: str = "") -> Call:
    """Create and queue the retry of `call`; RetryRefused says why not."""
    with transaction.atomic():
        # The row lock serialises two retries of the same call; the second sees the first's row.
        original = Call.objects.select_for_update().select_related("agent", "agent__provider_account").get(pk=call.pk)
        if original.status not in RETRYABLE:
            raise RetryRefused(f"call {original.public_id} is {original.status}; only failed, unanswered and busy "
                               f"calls can be retried")
        existing = Call.objects.filter(retry_of=original).values_list("public_id", flat=True).first()
        if existing:
            raise RetryRefused(f"call {original.public_id} was already retried as {existing}")
        if not original.agent.is_active or not original.agent.provider_account.is_active:
            raise RetryRefused(f"agent {original.agent.name} is inactive; activate it before retrying")
        retry = services.create_call(
            org=original.organization, agent=original.agent, to_number=original.to_number, source=source,
            from_number=original.from_number, instructions=original.instructions, context=original.context,
            metadata=original.metadata, returns=original.returns, webhook_url=original.webhook_url,
            language=original.language, voicemail_action=original.voicemail_action, tools=original.tools,
            # Not attached to the original's batch: the batch engine counts its own attempts per
            # recipient, and a triage retry must not disturb its pacing or breaker figures.
            retry_of=original, attempt=original.attempt + 1,
            # Due now: if the enqueue below is lost, the scheduled-call sweep still places it.
            scheduled_at=timezone.now())
        by = f" by {actor_label}" if actor_label else ""
        services.record_event(original, source=source, note=f"retried{by} as call {retry.public_id}",
                              payload={"retry": str(retry.public_id)})
        services.record_event(retry, source=source, note=f"retry of call {original.public_id}{by}",
                              payload={"retry_of": str(original.public_id)})
        transaction.on_commit(lambda: jobs.enqueue_placements([retry.pk]))
    return retry
