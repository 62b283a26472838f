"""What the calls app announces to the apps built on it.

`call_event` is sent for every webhook-worthy moment of a call (queued, ringing, answered, each
terminal status; `call.completed` once extraction has finished). Receivers run synchronously inside
the sender's transaction (`send`, not `send_robust`): the event a change owes and the change itself
commit or roll back together, as the lifecycle rule requires. The webhooks app is the subscriber
(connected in `WebhooksConfig.ready`); calls never imports it, so the dependency points one way.
"""

from django.dispatch import Signal

# The event types a call announces; the webhook event types of the same names.
CALL_EVENT_TYPES = ("call.queued", "call.ringing", "call.answered", "call.completed", "call.no_answer",
                    "call.busy", "call.canceled", "call.failed")

# call_event.send(sender=Call, call=<Call>, event_type=<one of CALL_EVENT_TYPES>)
call_event = Signal()


def announce(call, event_type: str) -> None:
    """Tell the subscribers that `call` reached `event_type`, inside the caller's transaction."""
    assert event_type in CALL_EVENT_TYPES, event_type
    call_event.send(sender=type(call), call=call, event_type=event_type)
