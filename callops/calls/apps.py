from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "callops.calls"
    label = "calls"
