"""Background jobs of extraction (module-level functions taking ids) and its sweep."""

from __future__ import annotations

from callops.calls.models import EventSource


def run_extraction_job(call_id: int, source: str = EventSource.SYSTEM) -> None:
    from .services import run_extraction

    run_extraction(call_id, source=source)


def sweep_lost_extractions() -> int:
    """Listed in settings.SWEEPS: re-enqueue extraction runs whose job was lost."""
    from .services import requeue_lost_runs

    return requeue_lost_runs()
