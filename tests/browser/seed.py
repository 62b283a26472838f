"""A small organization with something on every page: calls in each outcome, a batch, a failing
webhook endpoint with a failed delivery, an API key. Shared by the phone-width test and the
screenshot script, so both look at the same console."""

from datetime import timedelta

from django.utils import timezone


def seed_console(personas, sandbox_agent, failed_call, failing_delivery):
    from callops.accounts import services as accounts
    from callops.batches import recipient_lists
    from callops.batches import services as batch_services
    from callops.batches.batch_settings import clean_settings
    from callops.calls import services
    from callops.calls.models import Call, CallStatus, EventSource
    from callops.webhooks.models import WebhookEndpoint

    sandbox_agent.returns = {"confirmed": "boolean",
                            "reschedule_to": {"type": "string", "description": "a day and time the callee prefers"}}
    sandbox_agent.save(update_fields=["returns"])
    completed = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100",
                                     source=EventSource.API, context={"name": "Ada Lovelace", "plan": "gold"})
    for step in ("initiated", "ringing", "in_progress", "completed"):
        services.apply_status(completed, step, source=EventSource.POLL, raw_status=step,
                              payload={"status": step, "call_id": "sbx-0001"})
    now = timezone.now()
    Call.objects.filter(pk=completed.pk).update(answered_at=now - timedelta(seconds=45), ended_at=now,
                                                duration_seconds=45)
    failed_call("invalid_number", to="+12025550102")
    failed_call("balance_low", to="+12025550105")
    failed_call("", status=CallStatus.NO_ANSWER, to="+12025550104")
    batch = batch_services.create_batch(
        org=personas.org, agent=sandbox_agent, settings=clean_settings({"name": "March renewals"}),
        rows=recipient_lists.rows_from_json(["+14155550123", "+14155550124", "+14155550125"]),
        columns=["phone"], start=False)
    delivery = failing_delivery("http", 503)
    # As the delivery worker leaves it after a failed attempt: the endpoint is in a failure streak.
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(failing_since=delivery.created_at,
                                                                 last_failure_at=delivery.created_at)
    accounts.create_api_key(personas.org, "billing backend with a long descriptive name")
    completed.refresh_from_db()
    return {"call": completed, "batch": batch}
