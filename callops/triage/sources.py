"""What counts as a failure in each of triage's three sources, and the key that groups it.

- calls that ended failed, unanswered or busy, keyed by (status, error_code, hangup_cause, provider
  reason when there is no error code);
- extractions that failed, keyed by the error kind read from `result_error`;
- webhook attempts that failed for deliveries still undelivered, keyed by error kind (and HTTP
  class), plus the deliveries held (skipped) for a disabled endpoint without any attempt.

Each source is a queryset with its key annotated, windowed on the rows' creation time, so the
grouping (callops.triage.groups) and the bulk actions (callops.triage.services) select exactly the
same rows for one group.
"""

from __future__ import annotations

from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.functions import Concat

from callops.calls import failure_keys
from callops.calls.models import Call, CallStatus, ResultStatus
from callops.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

from .explanations import CALLING_RULE_CODES

PROBLEM_STATUSES = [CallStatus.FAILED, CallStatus.NO_ANSWER, CallStatus.BUSY]
UNDELIVERED = [DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]
SEP = "|"


# --- calls -----------------------------------------------------------------------------------------
CALL_KEY = ("status", "error_code", "hangup_cause", "reason_key")


def call_key(row) -> str:
    return SEP.join(str(row[k] or "") for k in CALL_KEY)


def group_calls(org, since, until):
    """The calls of the statuses triage groups in [since, until), for a query narrowed to one
    group's key (failed, unanswered and busy calls, and canceled ones a calling rule canceled).

    The rule for canceled calls is left to the key, which names its status and error code (see
    calls_for_key): as an OR here it made PostgreSQL scan every failure in the window twice
    instead of walking the failure-group index (call_failure_recent) for one key. Windows are on
    created_at everywhere, as on the calls list; first and last seen are when the failures
    happened (ended_at)."""
    return (Call.objects.filter(failure_keys.FAILURE_ROWS, organization=org, created_at__gte=since,
                                created_at__lt=until).annotate(reason_key=failure_keys.reason_key()))


def calls_for_key(org, key: str, since, until):
    status, error_code, hangup, reason = (key.split(SEP, 3) + ["", "", "", ""])[:4]
    if status == CallStatus.CANCELED and error_code not in CALLING_RULE_CODES:
        return Call.objects.none()  # only calling rules make a canceled call a failure
    return group_calls(org, since, until).filter(status=status, error_code=error_code, hangup_cause=hangup,
                                                 reason_key=reason)


# --- extractions -----------------------------------------------------------------------------------
def failed_extractions(org, since):
    return (Call.objects.filter(organization=org, status=CallStatus.COMPLETED, result_status=ResultStatus.FAILED,
                                created_at__gte=since)
            .annotate(cause=failure_keys.extraction_kind()))


def extractions_for_key(org, key: str, since, until):
    return failed_extractions(org, since).filter(created_at__lt=until, cause=key)


# --- webhooks --------------------------------------------------------------------------------------
def _webhook_kind():
    http = Q(error_kind="http")
    return Case(
        When(http & Q(response_status=410), then=Value("webhook_gone")),
        When(http & Q(response_status=429), then=Value("webhook_rate_limited")),
        When(http & Q(response_status__in=[401, 403]), then=Value("webhook_auth")),
        When(http & Q(response_status__gte=500), then=Value("webhook_server_error")),
        When(http, then=Value("webhook_client_error")),
        When(error_kind="network", then=Value("webhook_unreachable")),
        default=Concat(Value("webhook_"), F("error_kind")), output_field=CharField())


def failed_attempts(org, since):
    # Windowed on the delivery's creation (the (organization, created_at) index of deliveries).
    return (WebhookAttempt.objects.filter(delivery__organization=org, succeeded=False,
                                          delivery__created_at__gte=since, delivery__status__in=UNDELIVERED)
            .annotate(cause=_webhook_kind()))


SKIPPED_KEY = "webhook_endpoint_disabled"


def held_deliveries(org, since):
    # Deliveries never tried because their endpoint was disabled; ones that also failed an attempt
    # are already counted under that attempt's cause.
    return (WebhookDelivery.objects.filter(organization=org, status=DeliveryStatus.SKIPPED, created_at__gte=since)
            .exclude(attempts__succeeded=False))


def deliveries_for_key(org, key: str, since, until):
    if key == SKIPPED_KEY:
        return held_deliveries(org, since).filter(created_at__lt=until)
    attempts = failed_attempts(org, since).filter(delivery__created_at__lt=until, cause=key)
    return WebhookDelivery.objects.filter(organization=org, status__in=UNDELIVERED,
                                          pk__in=attempts.values("delivery_id"))
