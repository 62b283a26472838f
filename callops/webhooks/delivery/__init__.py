"""Sending webhook deliveries: claim due rows, sign, POST, record the attempt, schedule the retry.

- `lease`: claim a batch of due deliveries with a lease and one in-flight slot per destination;
- `caps`: those slots (per-endpoint and per-host concurrency caps) and stalled hosts' cool-downs;
- `request`: build the signed request, send it with the hard deadline, classify the outcome;
- `record`: write the attempt rows and move each delivery on (delivered, next try, failed);
- `schedule`: when the next automatic attempt is due;
- `worker`: the loop that ties them together, batch by batch.

Each attempt goes to the endpoint's current URL with its current headers (read at claim time), is
bounded by the hard total deadline of `callops.lib.http`, is logged as a WebhookAttempt row with
the URL actually used, and moves the delivery to delivered, to its next due time, or to failed once
the schedule is used up.
"""

from callops.webhooks.call_summary import sync_call_status
from callops.webhooks.delivery.lease import claim, due_querysets, release
from callops.webhooks.delivery.record import finish_recovery_if_complete, record_many
from callops.webhooks.delivery.schedule import MAX_AUTO_ATTEMPTS, parse_retry_after, retry_delay
from callops.webhooks.delivery.worker import deliver_due

__all__ = ["MAX_AUTO_ATTEMPTS", "claim", "deliver_due", "due_querysets", "finish_recovery_if_complete",
           "parse_retry_after", "record_many", "release", "retry_delay", "sync_call_status"]
