from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "callops.providers"
    label = "providers"
