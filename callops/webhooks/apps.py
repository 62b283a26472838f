from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "callops.webhooks"
    label = "webhooks"

    def ready(self):
        # Load the delivery code and build the shared httpx clients (SSL context plus the
        # SSRF-guarded transport) once, at process start, rather than in the first job or request
        # to need them; a process that forks afterwards hands them on. See `callops.lib.http.warm_up`.
        # Imported here, not at module level, because Django imports apps.py before the models.
        from callops.batches.models import Batch
        from callops.batches.signals import batch_event
        from callops.calls.models import Call
        from callops.calls.signals import call_event
        from callops.lib import http
        from callops.webhooks import events, jobs  # noqa: F401

        # Every call and batch event becomes a webhook event in the same transaction (see
        # callops.calls.signals, callops.batches.signals).
        call_event.connect(events.on_call_event, sender=Call, dispatch_uid="webhooks.call_event")
        batch_event.connect(events.on_batch_event, sender=Batch, dispatch_uid="webhooks.batch_event")
        http.warm_up()
