"""Background jobs for provider status sync. Each takes a call id and checks state first."""

from . import sync


def sync_call_job(call_id: int) -> str:
    return sync.sync_call(call_id)


def sync_calls_job(call_ids: list[int]) -> dict:
    return sync.sync_calls(call_ids)


def reconcile_stale_job(call_id: int) -> str:
    return sync.reconcile_stale(call_id)
