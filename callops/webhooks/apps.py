from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "callops.webhooks"
    label = "webhooks"
