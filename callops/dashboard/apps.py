from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "callops.dashboard"
    label = "dashboard"
