from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "callops.webhooks"
    label = "webhooks"

    def ready(self):
        # Load the delivery code and build the SSL context once in the parent process, so forked
        # workers inherit them instead of paying ~30 ms (and the imports) per job.
        from callops.lib import http
        from callops.webhooks import jobs  # noqa: F401

        http.warm_up()
