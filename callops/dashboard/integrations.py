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


def deliveries_for(call):
    """The call's webhook deliveries with their attempts (two queries), or None if unavailable."""
    model = delivery_model()
    if model is None:
        return None
    field_names = {f.name for f in model._meta.get_fields()}
    qs = model.objects.filter(call=call) if "call" in field_names else None
    if qs is None:
        return None
    related = [f for f in ("endpoint", "event") if f in field_names]
    if related:
        qs = qs.select_related(*related)
    attempts = _attempts_name(model)
    if attempts:
        qs = qs.prefetch_related(attempts)
    order = "created_at" if "created_at" in field_names else "id"
    return list(qs.order_by(order, "id"))


def _attempts_name(model):
    for rel in model._meta.related_objects:
        if rel.related_model.__name__ == "WebhookAttempt":
            return rel.get_accessor_name()
    return None
