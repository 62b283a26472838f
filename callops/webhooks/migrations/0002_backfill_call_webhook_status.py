"""Backfill Call.webhook_status over all of a call's deliveries (endpoints included), with the rule
of callops.webhooks.call_summary (a pure function of plain values, so it is safe to use here)."""

from django.db import migrations

from callops.webhooks.call_summary import summarize

CHUNK = 500


def backfill(apps, schema_editor):
    Call = apps.get_model("calls", "Call")
    WebhookDelivery = apps.get_model("webhooks", "WebhookDelivery")
    last = 0
    while True:
        ids = list(Call.objects.filter(pk__gt=last, webhook_deliveries__isnull=False).order_by("pk")
                   .values_list("pk", flat=True).distinct()[:CHUNK])
        if not ids:
            return
        last = ids[-1]
        per_call = {pk: [] for pk in ids}
        for call_id, *rest in WebhookDelivery.objects.filter(call_id__in=ids).values_list(
                "call_id", "id", "endpoint_id", "status", "attempt_count", "last_error"):
            per_call[call_id].append(tuple(rest))
        for pk, rows in per_call.items():
            status, error = summarize(rows)
            Call.objects.filter(pk=pk).update(webhook_status=status, webhook_error=error)


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0002_webhook_status_retrying"),
        ("webhooks", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
