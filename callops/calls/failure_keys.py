"""The expressions that key triage's failure groups on the calls themselves, in one place.

Triage reads a group's calls (its samples, the rows a bulk action takes) filtered by these
expressions, and two indexes of Call are built on the very same ones: PostgreSQL uses an
expression index only for a query whose expression is identical to the index's, so both sides
take them from here.
"""

from __future__ import annotations

from django.db.models import Case, CharField, Q, Value, When
from django.db.models.functions import Substr

from .rollups import CAUSE_STATUSES, EXTRACTION_CAUSES, OTHER_CAUSE, REASON_CHARS

# The rows the failure-group index holds: the statuses triage groups as call failures.
FAILURE_ROWS = Q(status__in=CAUSE_STATUSES)
# The rows the failed-extraction index holds.
FAILED_EXTRACTION_ROWS = Q(status="completed", result_status="failed")


def reason_key() -> Case:
    """The provider reason, when there is no error code, as far as a group key keeps it.

    It only distinguishes groups that have no error code (PolyAI failures, for one); with a code,
    the code says it and free-text reasons would split one cause into many groups."""
    return Case(When(error_code="", then=Substr("provider_reason", 1, REASON_CHARS)), default=Value(""),
                output_field=CharField())


def extraction_kind() -> Case:
    """The kind of a failed extraction, read from the start of `result_error` (the same
    classification the call rollups count failed extractions by)."""
    return Case(*[When(result_error__startswith=prefix, then=Value(cause)) for prefix, cause in EXTRACTION_CAUSES],
                default=Value(OTHER_CAUSE), output_field=CharField())
