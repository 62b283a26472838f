from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "callops.webhooks"
    label = "webhooks"

    def ready(self):
        # Load the delivery code and build the shared httpx clients (SSL context plus the
        # SSRF-guarded transport) once, at process start, rather than in the first job or request
        # to need them; a process that forks afterwards hands them on. See `callops.lib.http.warm_up`.
        from callops.lib import http
        from callops.webhooks import jobs  # noqa: F401

        http.warm_up()
