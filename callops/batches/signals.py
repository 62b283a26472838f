"""What the batches app announces to the apps built on it.

`batch_event` is sent when a batch starts, pauses, completes, fails or is canceled. Receivers run
synchronously inside the sender's transaction (`send`), so a batch's change and the webhook event
it owes commit or roll back together. The webhooks app is the subscriber (connected in
`WebhooksConfig.ready`); batches never imports it, so the dependency points one way, as it does
for calls (`callops.calls.signals`).
"""

import logging

from django.dispatch import Signal

log = logging.getLogger(__name__)

# batch_event.send(sender=Batch, batch=<Batch>, event_type="batch.started" | "batch.paused" | ...)
batch_event = Signal()


def announce(batch, event_type: str) -> None:
    """Tell the subscribers that `batch` reached `event_type`, inside the caller's transaction."""
    try:
        batch_event.send(sender=type(batch), batch=batch, event_type=event_type)
    except Exception:
        # A subscriber's failure (an event type it does not know) must not undo a batch action;
        # the action matters more.
        log.exception("batch %s: could not record webhook event %s", batch.pk, event_type)
