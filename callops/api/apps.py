from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "callops.api"
    label = "api"
