from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "callops.analytics"
    label = "analytics"
