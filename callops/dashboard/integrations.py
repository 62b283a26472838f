"""Optional pieces the call detail page shows when their apps provide them.

Webhook deliveries and extraction re-runs live in their own apps; the dashboard asks for them
here so a page never breaks because one of those features is absent or not yet migrated.
"""

import importlib


def _attr(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def rerun_extraction():
    """`callops.extraction.services.rerun`, or None when extraction re-runs are unavailable."""
    return _attr("callops.extraction.services", "rerun")


def redeliver():
    return _attr("callops.webhooks.services", "redeliver")


def delivery_model():
    return _attr("callops.webhooks.models", "WebhookDelivery")


# What the detail page shows of each delivery and attempt, read as plain rows: attempts keep the
# request and response bodies and headers (up to WEBHOOK_STORED_BODY_BYTES each) and events their
# whole JSON body, none of which is on the page (the webhooks page shows an attempt in full), and
# the page only prints these values, so model instances would be built for nothing.
DELIVERY_FIELDS = ("id", "public_id", "status", "url", "attempt_count", "created_at", "event__type")
ATTEMPT_FIELDS = ("delivery_id", "number", "trigger", "created_at", "response_status", "error_kind", "error",
                  "duration_ms", "succeeded")


def deliveries_for(call):
    """The call's webhook deliveries, each a dict with its `attempts` (one query, two when there
    are deliveries), or None if webhook deliveries are unavailable."""
    model = delivery_model()
    if model is None:
        return None
    deliveries = list(model.objects.filter(call=call).order_by("created_at", "id").values(*DELIVERY_FIELDS))
    if deliveries:
        by_id = {d["id"]: d for d in deliveries}
        for d in deliveries:
            d["attempts"] = []
        attempt_model = model._meta.get_field("attempts").related_model
        for a in attempt_model.objects.filter(delivery_id__in=by_id).order_by("number", "id").values(*ATTEMPT_FIELDS):
            by_id[a["delivery_id"]]["attempts"].append(a)
    return deliveries
