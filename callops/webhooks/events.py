"""Builds webhook events from call changes. Called inside the transaction of the change."""


def emit_call_event(call, event_type: str) -> None:
    """Record `event_type` for `call` and its deliveries (filled in by the webhooks feature)."""
