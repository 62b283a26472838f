from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "callops.webhooks"
    label = "webhooks"

    def ready(self):
        # The Procfile's worker (`rqworker`, RQ's forking Worker) runs every job in a work horse
        # forked from the worker process, so whatever the parent has built is inherited for free
        # and whatever a job builds lazily is rebuilt in every horse. Load the delivery code and
        # build the shared httpx clients (SSL context plus the SSRF-guarded transport) here, before
        # any fork; see `callops.lib.http.warm_up`.
        from callops.lib import http
        from callops.webhooks import jobs  # noqa: F401

        http.warm_up()
