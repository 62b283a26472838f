"""Failure triage: calls, extractions and webhook deliveries that went wrong, grouped by cause."""
